/**
 * fetch: runs a FetchPlan into a fresh staging directory. Bounded parallel
 * streams, a shared bandwidth limit, md5 while streaming, resume of a dropped
 * file from the bytes already written (where the source has ranges). Only
 * fetch/verify write under staging; the served path is never touched here.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type { Hash } from 'node:crypto';
import { copyFile, link, mkdir, stat, truncate } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TokenBucket, throttle } from './bwlimit.js';
import { abortReason, IntegrityError, mapLocalWriteError, MonitorError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { md5Hash, Meter } from './meter.js';
import type { FileRecord, Staged } from './model.js';
import { resolveInside } from './paths.js';
import type { FetchPlan, PlannedFile } from './plan.js';
import { withRetry } from './retry.js';
import type { Source } from './sources/types.js';
import { openStaging } from './staging.js';

export interface FetchOptions {
  /** `<workDir>/<name>.staging`: one dir per donefile version under it (see staging.ts). */
  readonly stagingRoot: string;
  readonly concurrency: number;
  /** bytes/s over all streams; 0 = unlimited. */
  readonly bwlimit: number;
  readonly timeoutMs: number;
  readonly retries: number;
  /** Compute md5 of every file (--verify md5, or a manifest to check). */
  readonly md5: boolean;
  /** The served model dir, for --incremental reuse. */
  readonly servedDir: string | null;
  readonly unpackedFilename: string | null;
  readonly onBytes?: (n: number) => void;
}

interface Ctx {
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** Runs `worker` over `items` with at most `n` at once; the first failure aborts the rest. */
async function pool<T, R>(items: readonly T[], n: number, signal: AbortSignal, worker: (item: T, s: AbortSignal) => Promise<R>): Promise<R[]> {
  const ac = new AbortController();
  const s = AbortSignal.any([signal, ac.signal]);
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
  // Report the first real failure, not the aborts it caused in the other workers.
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) throw ac.signal.aborted && !signal.aborted ? ac.signal.reason : failed[0]!.reason;
  return out;
}

async function downloadOne(source: Source, f: PlannedFile, dest: string, bucket: TokenBucket | null, o: FetchOptions, ctx: Ctx): Promise<FileRecord> {
  await mkdir(path.dirname(dest), { recursive: true });
  let hash = o.md5 ? md5Hash() : null;
  let written = 0;
  // A partial file left by an interrupted sync of this same version is a resume point too.
  let attempt = (await stat(dest).catch(() => null)) ? 1 : 0;
  await withRetry(
    async () => {
      if (attempt++ > 0) ({ written, hash } = await resumePoint(dest, source.features.ranges, o.md5));
      const start = written;
      let meter: Meter | null = null;
      try {
        const input = await source.open(f.remote, { signal: ctx.signal, ...(start > 0 ? { start } : {}) });
        // The stall timer starts with the stream, not before open() (which has its own timeout).
        meter = new Meter({ hash, idleMs: o.timeoutMs, onBytes: o.onBytes, what: f.remote });
        const out = createWriteStream(dest, { flags: start > 0 ? 'a' : 'w' });
        // No throttle stage at all without --bwlimit: every stage costs per chunk.
        if (bucket) await pipeline(input, throttle(bucket, ctx.signal), meter, out, { signal: ctx.signal });
        else await pipeline(input, meter, out, { signal: ctx.signal });
      } catch (err) {
        if (ctx.signal.aborted) throw abortReason(ctx.signal);
        throw asFetchError(mapLocalWriteError(err, dest), f.remote);
      }
      written = start + (meter?.bytes ?? 0);
      if (written < f.size) throw new TransientError(`${f.remote}: connection ended after ${written} of ${f.size} bytes`);
    },
    { signal: ctx.signal, log: ctx.log, retries: o.retries, what: `download ${f.remote}` },
  );
  if (written !== f.size) throw new IntegrityError(`${f.remote}: got ${written} bytes, the listing said ${f.size}`);
  return { ...remoteMeta(f), size: written, ...(hash ? { md5: hash.digest('hex') } : {}) };
}

/**
 * Where a retry starts: the bytes really on disk (a failed pipeline may have
 * counted bytes it never wrote), or 0 when the source cannot range-read. The
 * md5 is rebuilt from the partial file: a rare second read of a prefix only.
 */
async function resumePoint(dest: string, ranges: boolean, md5: boolean): Promise<{ written: number; hash: Hash | null }> {
  const size = ranges ? await stat(dest).then((s) => s.size, () => 0) : 0;
  if (size === 0) {
    await truncate(dest, 0).catch(() => {});
    return { written: 0, hash: md5 ? md5Hash() : null };
  }
  const hash = md5 ? md5Hash() : null;
  if (hash) for await (const c of createReadStream(dest, { end: size - 1 })) hash.update(c as Buffer);
  return { written: size, hash };
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

export async function fetchModel(source: Source, plan: FetchPlan, o: FetchOptions, ctx: Ctx): Promise<Staged> {
  // An archive cannot resume mid-stream: it always starts fresh.
  const area = await openStaging(o.stagingRoot, plan.aspired.fingerprint, plan.archive);
  const bucket = o.bwlimit > 0 ? new TokenBucket(o.bwlimit) : null;
  if (plan.archive) {
    const f = plan.files[0]!;
    // tar is loaded only for archive models.
    const { unpackArchive } = await import('./unpack.js');
    const r = await unpackArchive(source, f, area.dir, { ...o, bucket }, ctx);
    return { dir: r.modelDir, aspired: plan.aspired, files: r.files, archive: r.archive };
  }
  let resumed = 0;
  const files = await pool(plan.files, o.concurrency, ctx.signal, async (f, signal) => {
    const dest = resolveInside(area.modelDir, f.path);
    const earlier = await area.completed(f.path, f.size);
    if (earlier && (!o.md5 || earlier.md5)) {
      resumed += f.size;
      return earlier;
    }
    const c = { signal, log: ctx.log };
    const r = f.reuseFrom && o.servedDir ? await reuseOne(f, o.servedDir, dest) : await downloadOne(source, f, dest, bucket, o, c);
    await area.markDone(r);
    return r;
  });
  if (resumed > 0) ctx.log.info({ event: 'resumed', bytes: resumed }, 'kept files completed by an interrupted sync of this version');
  return { dir: area.modelDir, aspired: plan.aspired, files };
}
