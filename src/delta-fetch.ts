/**
 * delta-fetch: a file of a published model built from the served copy's
 * unchanged chunks plus ranged reads of the new file (the chunk-level delta
 * of docs/publish.md). The Fetcher asks, per file, whether there is a served
 * copy to build from (base), and keeps every new chunk index it reads in the
 * work dir's store (chunk/index-store.ts), so the version it swaps in can be
 * the base of the next one.
 *
 * A file is pulled whole, as without chunk indexes, when: the source is not
 * the view of a published model, it has no ranges, the new version has no
 * index for the file (or a bad one), the served record names no index for
 * it, the store does not have that index, the served file is not the size
 * its record says, or the plan would reuse nothing. A served chunk whose
 * bytes no longer match its hash is fetched instead (assemble.ts).
 *
 * Every ranged read is checked to be the listed version (same-version.ts),
 * paced by --bwlimit, and dropped when it stalls or trickles (--timeout,
 * --min-rate); a cut read is re-requested from the chunk in progress.
 */
import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { throttle } from './bwlimit.js';
import { assembleFile } from './chunk/assemble.js';
import { planFile } from './chunk/delta.js';
import type { IndexStore } from './chunk/index-store.js';
import type { ChunkIndex } from './chunk/index-format.js';
import { IntegrityError, NotFoundError } from './errors.js';
import { Meter } from './meter.js';
import type { FileRecord } from './model.js';
import { ownDir, resolveInside } from './paths.js';
import type { PlannedFile } from './plan.js';
import { chunkIndexesOf, type ChunkIndexes } from './publish/view.js';
import { checkRead } from './same-version.js';
import type { Transfer } from './transfer.js';

/** What a fetch needs to build files by delta: the store, and what is served. */
export interface DeltaSetup {
  readonly store: IndexStore;
  /** The served model's dir, or null when nothing is served. */
  readonly servedDir: string | null;
  /** The served record's files by path. */
  readonly servedFiles: ReadonlyMap<string, FileRecord>;
}

/** The served copy a file is built from. */
export interface DeltaBase {
  readonly file: string;
  readonly record: FileRecord & { readonly chunkIndex: string };
}

/** A new version's chunk index, read, checked against the plan and stored. */
export interface NewIndex {
  readonly index: ChunkIndex;
  readonly key: string;
}

export class DeltaFetch {
  /** Bytes taken from served copies. */
  reused = 0;

  private constructor(
    private readonly t: Transfer,
    private readonly ix: ChunkIndexes,
    private readonly s: DeltaSetup,
  ) {}

  /** Null when the source has no chunk indexes: every file is pulled whole and nothing is stored. */
  static for(t: Transfer, s: DeltaSetup | null | undefined): DeltaFetch | null {
    const ix = chunkIndexesOf(t.source);
    return ix && s ? new DeltaFetch(t, ix, s) : null;
  }

  /** The served copy to build `f` from, or null (then `f` is pulled whole). No remote I/O. */
  async base(f: PlannedFile): Promise<DeltaBase | null> {
    const r = this.s.servedFiles.get(f.path);
    if (!r?.chunkIndex || !this.s.servedDir || !this.t.source.features.ranges || f.reuseFrom !== undefined) return null;
    const file = resolveInside(this.s.servedDir, f.path);
    const st = await lstat(file).catch(() => null);
    if (!st?.isFile() || st.size !== r.size) return null;
    return { file, record: r as DeltaBase['record'] };
  }

  /**
   * The new version's index of `f`, stored; null when it has none, or one
   * that cannot be used (logged): `f` is then pulled whole, with no index recorded.
   */
  async newIndex(f: PlannedFile, signal: AbortSignal): Promise<NewIndex | null> {
    let read;
    try {
      read = await this.ix.chunkIndex(f.remote, { signal });
    } catch (err) {
      if (!(err instanceof IntegrityError || err instanceof NotFoundError)) throw err;
      this.t.log.warn({ event: 'chunk-index-unusable', path: f.path, err }, `${f.remote}: its chunk index cannot be used; pulling the file whole`);
      return null;
    }
    if (!read) return null;
    this.t.onBytes?.(read.bytes.length);
    const { index } = read;
    if (index.size !== f.size || (f.md5 !== undefined && f.md5.toLowerCase() !== index.md5)) {
      this.t.log.warn(
        { event: 'chunk-index-unusable', path: f.path },
        `${f.remote}: its chunk index is for another file than the one listed; pulling it whole`,
      );
      return null;
    }
    return { index, key: await this.s.store.put(read.bytes) };
  }

  /**
   * Builds `f` into `tmp` from `base` and ranged reads; returns its md5, or
   * null when the served index is unknown or nothing would be reused (pull it whole).
   */
  async build(f: PlannedFile, base: DeltaBase, next: NewIndex, tmp: string, signal: AbortSignal): Promise<string | null> {
    const old = await this.s.store.get(base.record.chunkIndex, { size: base.record.size, md5: base.record.md5 });
    const plan = old && planFile(old, next.index);
    if (!plan) return null;
    await ownDir(path.dirname(tmp));
    const res = await assembleFile({
      oldFile: base.file,
      index: next.index,
      plan,
      dest: tmp,
      readRemote: (start, length, s) => this.ranged(f, start, length, s),
      signal,
      retries: this.t.retries,
    });
    this.reused += res.reusedBytes;
    this.t.log.info(
      {
        event: 'delta',
        path: f.path,
        fetchedBytes: res.fetchedBytes,
        reusedBytes: res.reusedBytes,
        refetchedBytes: res.refetchedBytes,
        requests: plan.requests,
      },
      `${f.path}: built from the served copy, ${res.fetchedBytes} of ${f.size} bytes fetched`,
    );
    return res.md5;
  }

  /** One ranged read of the new file: the listed version, paced by --bwlimit, failed when it stalls or trickles. */
  private async ranged(f: PlannedFile, start: number, length: number, signal: AbortSignal): Promise<Readable> {
    const t = this.t;
    const input = await t.source.open(f.remote, { signal, start, length });
    checkRead(t.source, f, input, t.onConfirmed);
    const meter = new Meter({
      hash: null,
      idleMs: t.timeoutMs,
      minBytesPerSec: t.minBytesPerSec,
      onBytes: t.onBytes,
      what: `${f.remote} bytes ${start}-${start + length - 1}`,
    });
    // An error anywhere destroys the meter with it (assemble sees it and re-requests); assemble destroying the meter ends the read.
    if (t.bucket) pipeline(input, throttle(t.bucket, signal), meter, () => {});
    else pipeline(input, meter, () => {});
    return meter;
  }
}

/** Where a file is built by delta, outside the model dir until it is whole: an interrupted one is rebuilt. */
export const deltaTmp = (partsDir: string, p: string) => path.join(partsDir, `${createHash('sha1').update(p).digest('hex')}.delta`);
