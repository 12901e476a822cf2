/**
 * detect: the donefile → Aspired | null. This is the only request an idle
 * watcher makes per poll: one stat (timestamp mode) or one small GET (content).
 */
import { createHash } from 'node:crypto';
import { IntegrityError, NotFoundError } from './errors.js';
import type { Logger } from './log.js';
import type { Aspired } from './model.js';
import { remoteOp } from './retry.js';
import type { Source } from './sources/types.js';

export interface DetectOptions {
  readonly donefile: string;
  readonly remoteModel: string;
  readonly mode: 'timestamp' | 'content';
  readonly timeoutMs: number;
  readonly retries: number;
}

/** Largest donefile read into memory (a manifest of many thousand lines fits). */
export const MAX_DONEFILE_BYTES = 16 * 1024 * 1024;

/** Reads a small remote file whole, bounded. */
export async function readSmall(source: Source, p: string, signal: AbortSignal, limit = MAX_DONEFILE_BYTES): Promise<string> {
  const stream = await source.open(p, { signal });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      stream.destroy();
      throw new IntegrityError(`${p} is larger than ${limit} bytes; not a donefile or manifest`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function versionLabel(fingerprint: string, mtimeMs: number | undefined): string {
  const when = new Date(mtimeMs ?? Date.now())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${when}-${createHash('sha1').update(fingerprint).digest('hex').slice(0, 8)}`;
}

export async function detect(source: Source, o: DetectOptions, ctx: { signal: AbortSignal; log: Logger }): Promise<Aspired | null> {
  const op = { signal: ctx.signal, log: ctx.log, retries: o.retries, timeoutMs: o.timeoutMs, what: `stat ${o.donefile}` };
  if (o.mode === 'content') {
    const content = await remoteOp(
      (signal) =>
        readSmall(source, o.donefile, signal).catch((err: unknown) => {
          if (err instanceof NotFoundError) return null;
          throw err;
        }),
      { ...op, what: `read ${o.donefile}` },
    );
    if (content === null) return null;
    const fp = `md5:${createHash('md5').update(content).digest('hex')}`;
    return { version: versionLabel(fp, undefined), fingerprint: fp, remoteModel: o.remoteModel, donefile: content };
  }
  const st = await remoteOp((signal) => source.stat(o.donefile, { signal }), op);
  if (!st || st.isDirectory) return null;
  const parts = [`mtime:${st.mtimeMs ?? ''}`, `size:${st.size}`];
  if (st.etag) parts.push(`etag:${st.etag}`);
  const fp = parts.join(';');
  return { version: versionLabel(fp, st.mtimeMs), fingerprint: fp, remoteModel: o.remoteModel };
}
