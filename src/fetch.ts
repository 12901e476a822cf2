/**
 * fetch: runs a FetchPlan into a fresh staging directory. Bounded parallel
 * streams, big files as parallel ranged parts (--part-size), a shared
 * bandwidth limit, md5 while streaming, resume of a dropped file or part from
 * the bytes already written (where the source has ranges). Only fetch/verify
 * write under staging; the served path is never touched here.
 */
import { createHash, type Hash } from 'node:crypto';
import { copyFile, link, mkdir, open, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { linked } from './deadline.js';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TokenBucket, throttle } from './bwlimit.js';
import { abortReason, mapLocalWriteError, MonitorError, NotFoundError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { md5Hash } from './meter.js';
import { FileSink } from './sink.js';
import type { FileRecord, Staged } from './model.js';
import { ownDir, resolveInside } from './paths.js';
import type { FetchPlan, PlannedFile } from './plan.js';
import { withRetry } from './retry.js';
import type { Source } from './sources/types.js';
import { checkRead } from './same-version.js';
import { openStaging, type StagingArea } from './staging.js';

export interface FetchOptions {
  /** `<workDir>/<name>.staging`: one dir per donefile version under it (see staging.ts). */
  readonly stagingRoot: string;
  readonly concurrency: number;
  /** Files larger than this are fetched as parallel ranged parts of this size (0 = never). */
  readonly partSize: number;
  /** bytes/s over all streams; 0 = unlimited. */
  readonly bwlimit: number;
  readonly timeoutMs: number;
  /** A transfer slower than this (bytes/s, averaged over a window of timeoutMs) is dropped and resumed. */
  readonly minBytesPerSec: number;
  readonly retries: number;
  /** Compute md5 of every file (--verify md5, or a manifest to check). */
  readonly md5: boolean;
  /** The served model dir, for --incremental reuse. */
  readonly servedDir: string | null;
  readonly unpackedFilename: string | null;
  /** An archive may unpack to at most this many times its size (0 = only the free space bounds it). */
  readonly maxUnpackRatio: number;
  /** Rewritten after each swap: must not be a link in an unpacked model. */
  readonly timestampFile: string | null;
  readonly onBytes?: (n: number) => void;
  /** A read of this file named its version (ETag or mtime) and it was the listed one. */
  readonly onConfirmed?: (path: string) => void;
  /** A file is complete in staging (the progress bar's count). */
  readonly onFile?: (path: string) => void;
}

interface Ctx {
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** Runs `worker` over `items` with at most `n` at once; the first failure aborts the rest. */
async function pool<T, R>(items: readonly T[], n: number, signal: AbortSignal, worker: (item: T, s: AbortSignal) => Promise<R>): Promise<R[]> {
  const ac = linked(signal);
  const s = ac.signal;
  // Each in-flight transfer listens for abort on this one signal.
  setMaxListeners(Math.max(10, n * 4), s);
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      s.throwIfAborted();
      const i = next++;
      try {
        out[i] = await worker(items[i]!, s);
      } catch (err) {
        ac.abort(err);
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(n, items.length) }, run));
  ac.dispose();
  // Report the first real failure, not the aborts it caused in the other workers.
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) throw s.aborted && !signal.aborted ? s.reason : failed[0]!.reason;
  return out;
}

/** A byte range of a remote file and where it goes on disk. */
interface Range {
  /** The file as listed: every read of it must answer for this version. */
  readonly listed: PlannedFile;
  readonly remote: string;
  readonly file: string;
  readonly start: number;
  readonly length: number;
  /** A part asks the source for `length` bytes; a whole file reads to the end. */
  readonly part: boolean;
}

/**
 * Streams one range into its file with retries. A retry goes on from the
 * bytes really on disk (FileSink counts only written bytes), with a range
 * read where the source has them. `done` is where a resumed range starts.
 */
async function transfer(source: Source, r: Range, done: number, first: Hash | null, bucket: TokenBucket | null, o: FetchOptions, ctx: Ctx): Promise<Hash | null> {
  let hash = first;
  let written = done;
  let fresh = done === 0 && !r.part;
  await withRetry(
    async (attempt) => {
      if (attempt > 1 && written > 0 && !source.features.ranges) {
        written = 0;
        fresh = true;
      }
      // md5 on a retry: rebuild it from what is on disk (the dropped stream may have fed bytes it never wrote)
      if (attempt > 1 && hash) hash = await hashPrefix(r.file, written, o.md5);
      const at = r.start + written;
      const want = r.length - written;
      let sink: FileSink | null = null;
      try {
        const input = await source.open(r.remote, { signal: ctx.signal, ...(at > 0 ? { start: at } : {}), ...(r.part ? { length: want } : {}) });
        checkRead(source, r.listed, input, o.onConfirmed);
        // The stall timer starts with the stream, not before open() (which has its own timeout).
        sink = new FileSink({ file: r.file, create: fresh, position: at, limit: want, hash, idleMs: o.timeoutMs, minBytesPerSec: o.minBytesPerSec, onBytes: o.onBytes, what: r.remote });
        fresh = false;
        // No throttle stage at all without --bwlimit: every stage costs per chunk.
        if (bucket) await pipeline(input, throttle(bucket, ctx.signal), sink, { signal: ctx.signal });
        else await pipeline(input, sink, { signal: ctx.signal });
      } catch (err) {
        // pipeline() rejects as soon as the input fails, while the sink may still have a write in flight:
        // its count is final only once it has closed (else a retry re-fetches bytes the old write still lands).
        if (sink && !sink.closed) await new Promise((resolve) => sink!.once('close', resolve));
        written += sink?.bytes ?? 0;
        if (ctx.signal.aborted) throw abortReason(ctx.signal);
        throw asFetchError(mapLocalWriteError(err, r.file), r.remote);
      }
      written += sink.bytes;
      if (written < r.length) throw new TransientError(`${r.remote}: connection ended after ${written} of ${r.length} bytes`);
    },
    { signal: ctx.signal, log: ctx.log, retries: o.retries, what: `download ${r.remote}${r.part ? ` bytes ${r.start}-${r.start + r.length - 1}` : ''}` },
  );
  return hash;
}

async function downloadOne(source: Source, f: PlannedFile, dest: string, area: StagingArea, bucket: TokenBucket | null, o: FetchOptions, ctx: Ctx): Promise<FileRecord> {
  await mkdir(path.dirname(dest), { recursive: true });
  if (source.localPath && !o.md5 && !bucket) return copyLocal(source.localPath(f.remote), f, dest, o);
  // A partial file left by an interrupted sync is a resume point only for the very version it was begun for.
  const onDisk = await stat(dest).then((s) => s.size, () => 0);
  const done = source.features.ranges && onDisk <= f.size && area.begun(f) ? onDisk : 0;
  if (done === 0) await area.begin(f);
  let md5 = await hashPrefix(dest, done, o.md5);
  const r: Range = { listed: f, remote: f.remote, file: dest, start: 0, length: f.size, part: false };
  if (done < f.size || f.size === 0) md5 = await transfer(source, r, done, md5, bucket, o, ctx);
  return { ...remoteMeta(f), ...(md5 ? { md5: md5.digest('hex') } : {}) };
}

/** file:// without md5 or --bwlimit: one copyFile (sendfile or copy_file_range in the kernel), no bytes through JS. */
async function copyLocal(from: string, f: PlannedFile, dest: string, o: FetchOptions): Promise<FileRecord> {
  try {
    await copyFile(from, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${f.remote}: gone since it was listed`, { cause: err });
    throw asFetchError(mapLocalWriteError(err, dest), f.remote);
  }
  const size = (await stat(dest)).size;
  if (size !== f.size) throw new TransientError(`${f.remote}: copied ${size} bytes, the listing said ${f.size}`);
  o.onBytes?.(size);
  return remoteMeta(f);
}

/** An md5 fed with the first `size` bytes of `file` (a resume point), or null when md5 is off. */
async function hashPrefix(file: string, size: number, md5: boolean): Promise<Hash | null> {
  if (!md5) return null;
  const hash = md5Hash();
  await hashRange(hash, file, 0, size);
  return hash;
}

/**
 * Feeds bytes [start, end) of `file` to `hash` through one reused 1 MiB buffer:
 * a read stream would allocate a fresh buffer per read, hundreds of MiB of
 * garbage for the GC when a big parted file is hashed from the page cache.
 */
async function hashRange(hash: Hash, file: string, start: number, end: number): Promise<void> {
  if (end <= start) return;
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, end - start));
  try {
    for (let pos = start; pos < end; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) throw new TransientError(`${file}: ended at ${pos} of ${end} bytes while hashing`);
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

function remoteMeta(f: PlannedFile): FileRecord {
  return { path: f.path, size: f.size, ...(f.md5 ? { md5: f.md5 } : {}), ...(f.mtimeMs !== undefined ? { remoteMtimeMs: f.mtimeMs } : {}), ...(f.etag ? { etag: f.etag } : {}) };
}

function asFetchError(err: unknown, what: string): MonitorError {
  if (err instanceof MonitorError) return err;
  return new TransientError(`${what}: transfer failed: ${(err as Error).message}`, { cause: err });
}

async function reuseOne(f: PlannedFile, served: string, dest: string): Promise<FileRecord> {
  const from = resolveInside(served, f.reuseFrom!);
  await mkdir(path.dirname(dest), { recursive: true });
  // A hardlink shares the inode: safe because served files are never written in place.
  await link(from, dest).catch(() => copyFile(from, dest));
  return remoteMeta(f);
}

/** Part size for `f`, or 0 when it is fetched as one stream. */
function partSizeFor(source: Source, f: PlannedFile, o: FetchOptions): number {
  if (source.localPath && !o.md5) return 0; // one copyFile beats any number of streams
  return source.features.ranges && o.partSize > 0 && o.concurrency > 1 && f.size > o.partSize && !f.reuseFrom ? o.partSize : 0;
}

type Task = (signal: AbortSignal) => Promise<void>;

/**
 * The tasks of one file fetched as ranged parts: each part streams into its
 * place in one file under `parts/` and is journalled when complete; the md5
 * (when asked) follows the landed parts in file order, read back from the page
 * cache, since parallel parts cannot feed one md5 in order; the task that
 * completes the last part renames the file into the model.
 */
async function partTasks(source: Source, f: PlannedFile, partSize: number, area: StagingArea, bucket: TokenBucket | null, o: FetchOptions, ctx: Ctx, done: (r: FileRecord, resumed: number) => void): Promise<Task[]> {
  const tmp = path.join(area.partsDir, createHash('sha1').update(f.path).digest('hex'));
  let kept = area.completedParts(f);
  if (kept.size === 0 || (await stat(tmp).then((s) => s.size, () => -1)) !== f.size) {
    // The whole file's size up front: each part writes at its own offset.
    await ownDir(area.partsDir);
    await writeFile(tmp, '');
    await truncate(tmp, f.size);
    await area.resetParts(f);
    kept = new Set();
  }
  const parts: { start: number; length: number }[] = [];
  for (let start = 0; start < f.size; start += partSize) parts.push({ start, length: Math.min(partSize, f.size - start) });
  const todo = parts.filter((p) => !kept.has(p.start));
  const resumed = f.size - todo.reduce((n, p) => n + p.length, 0);
  let left = todo.length;
  // The md5 follows the parts in file order: each part is hashed (from the page cache) as soon as
  // every part before it has landed, while later parts still stream, not all at the end.
  const landed = new Set(kept);
  const md5 = o.md5 ? md5Hash() : null;
  let next = 0; // parts[0..next) are in the md5
  let hashing = Promise.resolve();
  let hashFailed: unknown = null;
  const advance = () =>
    (hashing = hashing
      .then(async () => {
        for (; md5 && next < parts.length && landed.has(parts[next]!.start); next++) {
          await hashRange(md5, tmp, parts[next]!.start, parts[next]!.start + parts[next]!.length);
        }
      })
      .catch((err: unknown) => void (hashFailed ??= err)));
  const finish = async () => {
    await advance();
    if (hashFailed) throw hashFailed;
    const dest = resolveInside(area.modelDir, f.path);
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(tmp, dest);
    const r = { ...remoteMeta(f), ...(md5 ? { md5: md5.digest('hex') } : {}) };
    await area.markDone(r);
    done(r, resumed);
  };
  if (left === 0) return [finish];
  return todo.map((p) => async (signal) => {
    const range: Range = { listed: f, remote: f.remote, file: tmp, start: p.start, length: p.length, part: true };
    await transfer(source, range, 0, null, bucket, o, { signal, log: ctx.log });
    await area.markPart(f, p.start);
    landed.add(p.start);
    // Not awaited: the pool slot goes on to the next part while this one is hashed.
    if (--left === 0) await finish();
    else void advance();
  });
}

export async function fetchModel(source: Source, plan: FetchPlan, o: FetchOptions, ctx: Ctx): Promise<Staged> {
  // An archive cannot resume mid-stream: it always starts fresh.
  const area = await openStaging(o.stagingRoot, plan.aspired.fingerprint, plan.archive);
  // Files whose reads named their version (and it was the listed one): confirm.ts lists again only for the others.
  const confirmed = new Set<string>();
  o = { ...o, onConfirmed: (p) => confirmed.add(p) };
  const bucket = o.bwlimit > 0 ? new TokenBucket(o.bwlimit) : null;
  if (plan.archive) {
    const f = plan.files[0]!;
    // tar is loaded only for archive models.
    const { unpackArchive } = await import('./unpack.js');
    const r = await unpackArchive(source, f, area.dir, { ...o, bucket }, ctx);
    o.onFile?.(f.path);
    return { dir: r.modelDir, aspired: plan.aspired, files: r.files, archive: r.archive, confirmed };
  }
  let resumed = 0;
  const records = new Map<string, FileRecord>();
  const done = (r: FileRecord, kept: number) => {
    records.set(r.path, r);
    resumed += kept;
    o.onFile?.(r.path);
  };
  // Parts of big files first: they are the long pole, and small files fill the gaps around them.
  const parted: Task[] = [];
  const whole: Task[] = [];
  for (const f of plan.files) {
    const earlier = await area.completed(f);
    if (earlier && (!o.md5 || earlier.md5)) {
      done(earlier, f.size);
      continue;
    }
    const partSize = partSizeFor(source, f, o);
    if (partSize > 0) {
      parted.push(...(await partTasks(source, f, partSize, area, bucket, o, ctx, done)));
      continue;
    }
    whole.push(async (signal) => {
      const dest = resolveInside(area.modelDir, f.path);
      const c = { signal, log: ctx.log };
      const r = f.reuseFrom && o.servedDir ? await reuseOne(f, o.servedDir, dest) : await downloadOne(source, f, dest, area, bucket, o, c);
      await area.markDone(r);
      done(r, 0);
    });
  }
  await pool([...parted, ...whole], o.concurrency, ctx.signal, (task, signal) => task(signal));
  if (resumed > 0) ctx.log.info({ event: 'resumed', bytes: resumed }, 'kept files completed by an interrupted sync of this version');
  return { dir: area.modelDir, aspired: plan.aspired, files: plan.files.map((f) => records.get(f.path)!), confirmed };
}
