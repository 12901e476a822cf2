/**
 * fetch: runs a FetchPlan into a fresh staging directory. Bounded parallel
 * streams (pool.ts), big files as parallel ranged parts (--part-size,
 * parts.ts), a shared bandwidth limit, md5 while streaming (of a parted file,
 * in order as its parts land: ordered-md5.ts), resume of a dropped file or part
 * from the bytes already written where the source has ranges (transfer.ts).
 * Only fetch/verify write under staging; the served path is never touched here.
 */
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TokenBucket } from './bwlimit.js';
import { mapLocalWriteError, NotFoundError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import type { FileRecord, Staged } from './model.js';
import { hashPrefix, OrderedMd5 } from './ordered-md5.js';
import { partLayout, partSizeFor, resumeFrom } from './parts.js';
import { ownDir, resolveInside } from './paths.js';
import type { FetchPlan, PlannedFile } from './plan.js';
import { pool } from './pool.js';
import type { Source } from './sources/types.js';
import { openStaging, type StagingArea } from './staging.js';
import { asFetchError, transferRange, type Transfer } from './transfer.js';
import { DeltaFetch, deltaTmp, type DeltaBase, type DeltaSetup } from './delta-fetch.js';

export interface FetchOptions {
  /** `<workDir>/<name>.staging`: one dir per donefile version under it (see staging.ts). */
  readonly stagingRoot: string;
  readonly concurrency: number;
  /** Files larger than this are fetched as parallel ranged parts of this size (0 = never). */
  readonly partSize: number;
  /** --part-size was given; else parts only for a source whose features say they pay (partsByDefault). */
  readonly partSizeGiven: boolean;
  /** bytes/s over all streams; 0 = unlimited. */
  readonly bwlimit: number;
  /** --data-path wire: files through source.download() where the source has it (and no --bwlimit). */
  readonly wire: boolean;
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
  readonly onBytes?: ((n: number) => void) | undefined;
  /** A file is complete in staging (the progress bar's count). */
  readonly onFile?: ((path: string) => void) | undefined;
  /** Chunk-level deltas from the served copy (delta-fetch.ts); absent = every file whole, no index kept. */
  readonly delta?: DeltaSetup | null | undefined;
}

interface Ctx {
  readonly signal: AbortSignal;
  readonly log: Logger;
}

type Task = (signal: AbortSignal) => Promise<void>;

function remoteMeta(f: PlannedFile): FileRecord {
  return {
    path: f.path,
    size: f.size,
    ...(f.md5 ? { md5: f.md5 } : {}),
    ...(f.mtimeMs !== undefined ? { remoteMtimeMs: f.mtimeMs } : {}),
    ...(f.etag ? { etag: f.etag } : {}),
  };
}

/** One fetch of one plan into one staging area: the tasks for each file, and their bookkeeping. */
class Fetcher {
  readonly records = new Map<string, FileRecord>();
  /** Bytes kept from an interrupted attempt at this version (whole files and parts). */
  resumed = 0;
  /** Bytes of whole files reused from the served copy (--incremental). */
  reused = 0;
  /** The chunk-index keys of files pulled whole (a delta-built file's record has its own). */
  readonly indexKeys = new Map<string, string>();
  readonly delta: DeltaFetch | null;
  /** Directories of the model made so far in this fetch (one mkdir each, not one per file). */
  private readonly made = new Set<string>();

  constructor(
    private readonly t: Transfer,
    private readonly area: StagingArea,
    private readonly o: FetchOptions,
  ) {
    this.delta = DeltaFetch.for(t, o.delta);
  }

  done(r: FileRecord, kept: number): void {
    this.records.set(r.path, r);
    this.resumed += kept;
    this.o.onFile?.(r.path);
  }

  /**
   * The file on local disk when the source has one (file://) and no md5 is
   * asked: it is never fetched in parts, and is one kernel-side copyFile unless
   * --bwlimit must pace it. The one place that decides a local copy.
   */
  private localFile(f: PlannedFile): string | null {
    return this.t.source.localPath && !this.o.md5 ? this.t.source.localPath(f.remote) : null;
  }

  /** The tasks that bring `f` into staging (none when an earlier attempt completed it), and the read of its chunk index. */
  async tasks(f: PlannedFile): Promise<{ parted: Task[]; whole: Task[] }> {
    const earlier = await this.area.completed(f);
    if (earlier && (!this.o.md5 || earlier.md5)) {
      this.done(earlier, f.size);
      return { parted: [], whole: earlier.chunkIndex ? [] : this.indexTask(f) };
    }
    const base = await this.delta?.base(f);
    if (base) return { parted: [], whole: [(signal) => this.deltaFile(f, base, signal)] };
    const { parted, whole } = await this.pullTasks(f);
    return { parted, whole: [...this.indexTask(f), ...whole] };
  }

  /** A file pulled whole keeps its chunk index too (the next version's delta base). */
  private indexTask(f: PlannedFile): Task[] {
    const d = this.delta;
    if (!d) return [];
    return [
      async (signal) => {
        const next = await d.newIndex(f, signal);
        if (next) this.indexKeys.set(f.path, next.key);
      },
    ];
  }

  /**
   * `f` built from the served copy (delta-fetch.ts) in a file of its own under
   * `parts/`, renamed into the model once whole and verified, then journalled.
   * kill -9 before the journal line: the next attempt builds it again.
   */
  private async deltaFile(f: PlannedFile, base: DeltaBase, signal: AbortSignal): Promise<void> {
    const d = this.delta!;
    const next = await d.newIndex(f, signal);
    const tmp = deltaTmp(this.area.partsDir, f.path);
    const md5 = next && (await d.build(f, base, next, tmp, signal));
    const dest = resolveInside(this.area.modelDir, f.path);
    let r: FileRecord;
    if (md5) {
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(tmp, dest);
      r = { ...remoteMeta(f), md5 };
    } else r = await this.download(f, dest, signal);
    if (next) r = { ...r, chunkIndex: next.key };
    await this.area.markDone(r);
    this.done(r, 0);
  }

  private async pullTasks(f: PlannedFile): Promise<{ parted: Task[]; whole: Task[] }> {
    const { ranges, partsByDefault } = this.t.source.features;
    const { partSize: size, concurrency } = this.o;
    const partSize = partSizeFor({
      partSize: size,
      given: this.o.partSizeGiven,
      partsByDefault: partsByDefault === true,
      concurrency,
      ranges,
      local: this.localFile(f) !== null,
      size: f.size,
      reused: f.reuseFrom !== undefined,
    });
    if (partSize > 0) return { parted: await this.partTasks(f, partSize), whole: [] };
    return { parted: [], whole: [(signal) => this.wholeFile(f, signal)] };
  }

  private async wholeFile(f: PlannedFile, signal: AbortSignal): Promise<void> {
    const dest = resolveInside(this.area.modelDir, f.path);
    const reuse = f.reuseFrom && this.o.servedDir;
    const r = reuse ? await reuseOne(f, this.o.servedDir!, dest) : await this.download(f, dest, signal);
    if (reuse) this.reused += f.size;
    await this.area.markDone(r);
    this.done(r, 0);
  }

  private async mkdirOnce(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  private async download(f: PlannedFile, dest: string, signal: AbortSignal): Promise<FileRecord> {
    await this.mkdirOnce(path.dirname(dest));
    const local = this.localFile(f);
    if (local !== null && !this.t.bucket) return copyLocal(local, f, dest, this.t.onBytes);
    // A partial file left by an interrupted sync is a resume point only for the very version it was begun for
    // (a file not begun for it starts from 0 whatever is on disk: no stat).
    const begun = this.area.begun(f);
    const onDisk = begun
      ? await stat(dest).then(
          (s) => s.size,
          () => 0,
        )
      : 0;
    const done = resumeFrom({ ranges: this.t.source.features.ranges, onDisk, size: f.size, begunForThisVersion: begun });
    if (done === 0) await this.area.begin(f);
    const md5 =
      done < f.size || f.size === 0
        ? await transferRange(this.t, { listed: f, file: dest, start: 0, length: f.size, part: false, done, md5: this.o.md5 }, signal)
        : this.o.md5
          ? (await hashPrefix(dest, done)).digest('hex')
          : null;
    return { ...remoteMeta(f), ...(md5 ? { md5 } : {}) };
  }

  /**
   * The tasks of one file fetched as ranged parts: each part streams into its
   * place in one file under `parts/` and is journalled when complete; the md5
   * (when asked) follows the landed parts in file order; the task that
   * completes the last part renames the file into the model.
   */
  private async partTasks(f: PlannedFile, partSize: number): Promise<Task[]> {
    const { area } = this;
    const tmp = path.join(area.partsDir, createHash('sha1').update(f.path).digest('hex'));
    let kept = area.completedParts(f);
    if (
      kept.size === 0 ||
      (await stat(tmp).then(
        (s) => s.size,
        () => -1,
      )) !== f.size
    ) {
      // The whole file's size up front: each part writes at its own offset.
      await ownDir(area.partsDir);
      await writeFile(tmp, '');
      await truncate(tmp, f.size);
      await area.resetParts(f);
      kept = new Set();
    }
    const parts = partLayout(f.size, partSize);
    const todo = parts.filter((p) => !kept.has(p.start));
    const resumed = f.size - todo.reduce((n, p) => n + p.length, 0);
    const md5 = this.o.md5 ? new OrderedMd5(tmp, parts) : null;
    for (const start of kept) md5?.landed(start);
    let left = todo.length;
    const finish = async () => {
      const digest = md5 ? await md5.digest() : null;
      const dest = resolveInside(area.modelDir, f.path);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(tmp, dest);
      const r = { ...remoteMeta(f), ...(digest ? { md5: digest } : {}) };
      await area.markDone(r);
      this.done(r, resumed);
    };
    if (left === 0) return [finish];
    return todo.map((p) => async (signal) => {
      await transferRange(this.t, { listed: f, file: tmp, start: p.start, length: p.length, part: true, done: 0, md5: false }, signal);
      await area.markPart(f, p.start);
      // Not awaited: the pool slot goes on to the next part while this one is hashed.
      md5?.landed(p.start);
      if (--left === 0) await finish();
    });
  }
}

/** file:// without md5 or --bwlimit: one copyFile (sendfile or copy_file_range in the kernel), no bytes through JS. */
async function copyLocal(from: string, f: PlannedFile, dest: string, onBytes: ((n: number) => void) | undefined): Promise<FileRecord> {
  try {
    await copyFile(from, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${f.remote}: gone since it was listed`, { cause: err });
    throw asFetchError(mapLocalWriteError(err, dest), f.remote);
  }
  const size = (await stat(dest)).size;
  if (size !== f.size) throw new TransientError(`${f.remote}: copied ${size} bytes, the listing said ${f.size}`);
  onBytes?.(size);
  return remoteMeta(f);
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
  try {
    return await fetchInto(area, source, plan, o, ctx);
  } finally {
    await area.close();
  }
}

async function fetchInto(area: StagingArea, source: Source, plan: FetchPlan, o: FetchOptions, ctx: Ctx): Promise<Staged> {
  // Files whose reads named their version (and it was the listed one): confirm.ts lists again only for the others.
  const confirmed = new Set<string>();
  const bucket = o.bwlimit > 0 ? new TokenBucket(o.bwlimit) : null;
  // Every byte read from the remote in this pull, for the `updated` event and status (fetched vs reused).
  let fetched = 0;
  const onBytes = (n: number) => {
    fetched += n;
    o.onBytes?.(n);
  };
  const t: Transfer = {
    source,
    bucket,
    wire: o.wire && bucket === null,
    timeoutMs: o.timeoutMs,
    minBytesPerSec: o.minBytesPerSec,
    retries: o.retries,
    log: ctx.log,
    onBytes,
    onConfirmed: (p) => confirmed.add(p),
  };
  if (plan.archive) {
    const f = plan.files[0]!;
    // tar is loaded only for archive models.
    const { unpackArchive } = await import('./unpack.js');
    const r = await unpackArchive(source, f, area.dir, { ...o, onBytes, bucket, onConfirmed: t.onConfirmed }, ctx);
    o.onFile?.(f.path);
    return { dir: r.modelDir, aspired: plan.aspired, files: r.files, archive: r.archive, confirmed, bytes: { fetched, reused: 0 } };
  }
  const fetcher = new Fetcher(t, area, o);
  // Parts of big files first: they are the long pole, and small files fill the gaps around them.
  const parted: Task[] = [];
  const whole: Task[] = [];
  for (const f of plan.files) {
    const tasks = await fetcher.tasks(f);
    parted.push(...tasks.parted);
    whole.push(...tasks.whole);
  }
  await pool([...parted, ...whole], o.concurrency, ctx.signal, (task, signal) => task(signal));
  if (fetcher.resumed > 0) ctx.log.info({ event: 'resumed', bytes: fetcher.resumed }, 'kept files completed by an interrupted sync of this version');
  const files = plan.files.map((f) => {
    const r = fetcher.records.get(f.path)!;
    const key = fetcher.indexKeys.get(f.path);
    return key ? { ...r, chunkIndex: key } : r;
  });
  const bytes = { fetched, reused: fetcher.reused + (fetcher.delta?.reused ?? 0) };
  return { dir: area.modelDir, aspired: plan.aspired, files, confirmed, bytes };
}
