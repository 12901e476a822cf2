/**
 * tar / tar.gz models, streamed from the source straight into staging (no
 * archive copy on disk). Every entry is checked before it is written: `..`,
 * absolute paths, links leaving the model, devices and FIFOs are refused.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { x as extract, type ReadEntry } from 'tar';
import { throttle, type TokenBucket } from './bwlimit.js';
import { abortReason, IntegrityError, mapLocalWriteError, MonitorError, TransientError, UnsafePathError } from './errors.js';
import type { Logger } from './log.js';
import { md5Hash, Meter } from './meter.js';
import type { FileRecord } from './model.js';
import { safeRelative } from './paths.js';
import type { PlannedFile } from './plan.js';
import { withRetry } from './retry.js';
import type { Source } from './sources/types.js';

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** Throws UnsafePathError for an entry that must not be written. */
export function checkEntry(e: Pick<ReadEntry, 'path' | 'type' | 'linkpath'>): void {
  if (!ALLOWED.has(e.type)) throw new UnsafePathError(`refusing tar entry ${JSON.stringify(e.path)} of type ${e.type}`);
  const rel = safeRelative(e.path.replace(/\/+$/, '') || '.');
  if (e.type === 'SymbolicLink') {
    const target = e.linkpath ?? '';
    if (path.posix.isAbsolute(target)) throw new UnsafePathError(`refusing tar symlink ${rel} -> ${target}: absolute target`);
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
    if (resolved === '..' || resolved.startsWith('../')) {
      throw new UnsafePathError(`refusing tar symlink ${rel} -> ${target}: leaves the model`);
    }
  }
  if (e.type === 'Link') safeRelative(e.linkpath ?? '');
}

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
  readonly onBytes?: (n: number) => void;
}

async function extractOnce(source: Source, f: PlannedFile, into: string, o: UnpackOptions, ctx: { signal: AbortSignal }): Promise<FileRecord> {
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { recursive: true });
  let unsafe: Error | null = null;
  const sink = extract({
    cwd: into,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    filter: (_p: string, e) => {
      try {
        checkEntry(e as ReadEntry);
        return true;
      } catch (err) {
        unsafe ??= err as Error;
        return false;
      }
    },
  });
  const meter = new Meter({ hash: o.md5 ? md5Hash() : null, idleMs: o.timeoutMs, minBytesPerSec: o.minBytesPerSec, onBytes: o.onBytes, what: f.remote });
  try {
    const input = await source.open(f.remote, { signal: ctx.signal }).catch((err: unknown) => {
      meter.destroy();
      throw err;
    });
    if (o.bucket) await pipeline(input, throttle(o.bucket, ctx.signal), meter, sink, { signal: ctx.signal });
    else await pipeline(input, meter, sink, { signal: ctx.signal });
  } catch (err) {
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
  const archive = await withRetry(() => extractOnce(source, f, into, o, ctx), {
    signal: ctx.signal, log: ctx.log, retries: o.retries, what: `download and unpack ${f.remote}`,
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
  return { modelDir, files: await listTree(modelDir), archive };
}
