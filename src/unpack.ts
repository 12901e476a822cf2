/**
 * tar / tar.gz models, streamed from the source straight into staging (no
 * archive copy on disk). Every entry is checked before it is written (see
 * tar-safety.ts) and the unpacked tree once more on disk. A gzip stream is
 * inflated by node's zlib ahead of the tar parser, in 64 KiB pieces with
 * backpressure (tar's own inflater turns each compressed chunk into all of its
 * output at once: a 1.5 MB bomb took 1.16 GB of memory), and the unpacked
 * bytes are bounded: by the free space of the staging filesystem and by
 * --max-unpack-ratio times the archive's size.
 */
import { lstat, mkdir, readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { x as extract, type ReadEntry } from 'tar';
import { throttle, type TokenBucket } from './bwlimit.js';
import { spaceNeeded } from './check.js';
import { abortReason, IntegrityError, mapLocalWriteError, MonitorError, NoSpaceError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { md5Hash, Meter } from './meter.js';
import type { FileRecord } from './model.js';
import { safeRelative } from './paths.js';
import type { PlannedFile } from './plan.js';
import { remoteOp } from './retry.js';
import type { Source } from './sources/types.js';
import { checkRead } from './same-version.js';
import { checkEntry, checkUnpackedTree } from './tar-safety.js';

export { checkEntry } from './tar-safety.js';

/** Files under dir as records (sizes; md5 is not re-read). */
export async function listTree(dir: string, rel = ''): Promise<FileRecord[]> {
  const out: FileRecord[] = [];
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listTree(dir, r)));
    else out.push({ path: r, size: (await lstat(path.join(dir, r))).size });
  }
  return out;
}

export interface UnpackOptions {
  readonly bucket: TokenBucket | null;
  readonly timeoutMs: number;
  readonly minBytesPerSec: number;
  readonly retries: number;
  readonly md5: boolean;
  readonly unpackedFilename: string | null;
  /** Unpacked bytes at most this many times the archive's size (0 = no ratio limit; free space still bounds it). */
  readonly maxUnpackRatio: number;
  /** The timestamp file the triggers rewrite: it must not be a link in the model. */
  readonly timestampFile: string | null;
  readonly onBytes?: ((n: number) => void) | undefined;
  readonly onConfirmed?: ((path: string) => void) | undefined;
}

/** Fails the stream once more than `limit` bytes came through. */
function bounded(limit: number, fail: () => Error): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(n > limit ? fail() : null, chunk);
    },
  });
}

/** The first bytes of `input` without consuming them (gzip's magic number). */
async function peek(input: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const c = input.read() as Buffer | null;
    if (c === null) {
      if (input.readableEnded || input.destroyed) break;
      await new Promise<void>((resolve) => {
        const done = () => (input.off('readable', done), input.off('end', done), input.off('error', done), input.off('close', done), resolve());
        input.on('readable', done).on('end', done).on('error', done).on('close', done);
      });
      if (input.errored) throw input.errored;
      continue;
    }
    parts.push(c);
    got += c.length;
  }
  const head = Buffer.concat(parts);
  if (head.length > 0) input.unshift(head);
  return head;
}

/** How many unpacked bytes this archive may produce: what fits in the free space, and the ratio limit. */
async function unpackLimit(into: string, f: PlannedFile, o: UnpackOptions): Promise<{ limit: number; why: string }> {
  const s = await statfs(into);
  const room = s.bavail * s.bsize - spaceNeeded(0, s.blocks * s.bsize);
  const ratio = o.maxUnpackRatio > 0 ? o.maxUnpackRatio * Math.max(f.size, 1024 * 1024) : Number.POSITIVE_INFINITY;
  return room < ratio ? { limit: room, why: `the free space of ${into}` } : { limit: ratio, why: `--max-unpack-ratio ${o.maxUnpackRatio} times its size` };
}

async function extractOnce(source: Source, f: PlannedFile, into: string, o: UnpackOptions, ctx: { signal: AbortSignal }): Promise<FileRecord> {
  // maxRetries: a previous attempt's extraction, aborted, may still be finishing its last writes.
  await rm(into, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  await mkdir(into, { recursive: true });
  const { limit, why } = await unpackLimit(into, f, o);
  let unsafe: Error | null = null;
  const links = new Map<string, string>();
  const sink = extract({
    cwd: into,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    filter: (_p: string, e) => {
      if (unsafe) return false;
      try {
        checkEntry(e as ReadEntry, links);
        return true;
      } catch (err) {
        unsafe = err as Error;
        sink.abort(unsafe); // stop reading: nothing after a refused entry is written
        return false;
      }
    },
  });
  const meter = new Meter({ hash: o.md5 ? md5Hash() : null, idleMs: o.timeoutMs, minBytesPerSec: o.minBytesPerSec, onBytes: o.onBytes, what: f.remote });
  const tooBig = () =>
    new (why.startsWith('the free') ? NoSpaceError : IntegrityError)(`${f.remote} unpacks to more than ${limit} bytes (${why}); refusing it`);
  try {
    const input = await source.open(f.remote, { signal: ctx.signal }).catch((err: unknown) => {
      meter.destroy();
      throw err;
    });
    checkRead(source, f, input, o.onConfirmed);
    const head = await peek(input, 2);
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const stages = [
      input,
      ...(o.bucket ? [throttle(o.bucket, ctx.signal)] : []),
      meter,
      ...(gzip ? [createGunzip({ chunkSize: 64 * 1024 })] : []),
      bounded(limit, tooBig),
      sink,
    ];
    await pipeline(stages, { signal: ctx.signal });
  } catch (err) {
    meter.destroy(); // its stall timer, when the pipeline never started
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    if (unsafe) throw unsafe;
    const e = mapLocalWriteError(err, into);
    if (e instanceof MonitorError) throw e;
    throw meter.bytes < f.size
      ? new TransientError(`${f.remote}: transfer failed after ${meter.bytes} bytes`, { cause: err })
      : new IntegrityError(`${f.remote}: not a valid tar archive: ${(err as Error).message}`, { cause: err });
  }
  if (unsafe) throw unsafe;
  if (meter.bytes < f.size) throw new TransientError(`${f.remote}: connection ended after ${meter.bytes} of ${f.size} bytes`);
  const md5 = meter.hash?.digest('hex');
  return { path: f.path, size: meter.bytes, ...(md5 ? { md5 } : {}) };
}

/** Downloads and unpacks; returns the model dir inside (`--unpacked_filename`, or the single top dir). */
export async function unpackArchive(
  source: Source,
  f: PlannedFile,
  dir: string,
  o: UnpackOptions,
  ctx: { signal: AbortSignal; log: Logger },
): Promise<{ modelDir: string; files: FileRecord[]; archive: FileRecord }> {
  const into = path.join(dir, 'unpack');
  // A tar stream cannot resume mid-entry: a retry starts the archive over.
  const archive = await remoteOp(() => extractOnce(source, f, into, o, ctx), {
    signal: ctx.signal,
    log: ctx.log,
    retries: o.retries,
    timeoutMs: null,
    what: `download and unpack ${f.remote}`,
  });
  let modelDir = into;
  if (o.unpackedFilename) {
    modelDir = path.join(into, safeRelative(o.unpackedFilename));
    const st = await lstat(modelDir).catch(() => null);
    if (!st?.isDirectory()) throw new IntegrityError(`${f.remote} does not unpack to ${o.unpackedFilename}/ (--unpacked_filename)`);
  } else {
    const top = await readdir(into, { withFileTypes: true });
    if (top.length === 1 && top[0]!.isDirectory()) modelDir = path.join(into, top[0]!.name);
  }
  await checkUnpackedTree(modelDir, o.timestampFile);
  return { modelDir, files: await listTree(modelDir), archive };
}
