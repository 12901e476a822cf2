/**
 * `--swap versioned`, for TensorFlow Serving and Triton: the served path
 * `NAME/` holds numbered version dirs `NAME/<n>/` and the engine serves the
 * highest (TF Serving's default `latest` policy; Triton's default too). The
 * engine scans `NAME/` on its own and would load a half-copied dir, so a new
 * model is staged outside `NAME/` and rename()d in as `NAME/<n+1>/` only when
 * complete: one step, the dir appears whole or not at all. Older versions are
 * removed only after the new one is in, and removal is a rename out of
 * `NAME/` into a trash dir first, so a scanner never sees a dir half deleted.
 * Anything in `NAME/` that is not a number (Triton's `config.pbtxt`) is the
 * user's and is never touched.
 *
 * Records (`<workDir>/<name>.version-records/<n>.json`) say which donefile each
 * version came from. Rollback removes the newest version dir, so the engine
 * falls back to the next highest; its number is kept as a tombstone record
 * (`<n>.rolled-back.json`) and never reused: an engine that polled neither the
 * removal nor the re-creation would keep serving the old `<n>`.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NoBackupError } from '../errors.js';
import { ownDir, refuseLink } from '../paths.js';
import type { ServedRecord, Verified } from '../model.js';
import { fsyncPath, readJson, writeJsonAtomic } from '../json-file.js';
import { exists, fsyncTree, initialRecord } from './disk.js';
import type { BackupInfo, SwapContext, SwapLayout, SwapResult, SwapStrategy } from './types.js';

type Journal = { readonly op: 'swap'; readonly n: number } | { readonly op: 'rollback'; readonly n: number };

export function versionedPaths(l: SwapLayout) {
  return {
    records: path.join(l.workDir, `${l.name}.version-records`),
    trash: path.join(l.workDir, `${l.name}.trash`),
    journal: path.join(l.workDir, `${l.name}.versioned-journal.json`),
  };
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export function createVersionedSwap(l: SwapLayout): SwapStrategy {
  const p = versionedPaths(l);
  const versionDir = (n: number) => path.join(l.servedPath, String(n));
  const recordOf = (n: number) => path.join(p.records, `${n}.json`);
  const tombstoneOf = (n: number) => path.join(p.records, `${n}.rolled-back.json`);

  /** Numeric dirs in NAME/, highest first: what the engine sees. */
  async function versions(): Promise<number[]> {
    let ents;
    try {
      ents = await readdir(l.servedPath, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return ents
      .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
      .map((e) => Number(e.name))
      .sort((a, b) => b - a);
  }

  /** Above every version dir and every record, tombstones included: numbers are never reused. */
  async function nextVersion(): Promise<number> {
    const recs = (await names(p.records))
      .map((n) => /^(\d+)\./.exec(n))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]));
    return Math.max(0, ...(await versions()), ...recs) + 1;
  }

  async function recordFor(n: number): Promise<ServedRecord | null> {
    return readJson<ServedRecord>(recordOf(n));
  }

  async function current(): Promise<SwapResult | null> {
    const [top] = await versions();
    if (top === undefined) return null;
    const rec = await recordFor(top);
    return rec ? { modelDir: versionDir(top), version: rec.version, backupPath: null, record: rec } : null;
  }

  /** Moves a version dir out of NAME/ in one step (a scanner never sees it half deleted), into the trash. */
  async function moveOut(n: number, tag: string): Promise<string> {
    await ownDir(p.trash);
    const dest = path.join(p.trash, `${tag}-${n}-${randomBytes(3).toString('hex')}`);
    await rename(versionDir(n), dest);
    return dest;
  }

  /** Keeps the newest `keep` versions below `top`; also drops records and tombstones no longer needed. */
  async function prune(top: number): Promise<void> {
    for (const n of (await versions()).filter((v) => v < top).slice(l.keepBackups)) {
      const gone = await moveOut(n, 'pruned');
      // Crash after: the dir is out of NAME/; the trash is emptied by the next swap, the orphan record below.
      // Deleted in the background: unlinking a big model should not hold up the reload.
      l.discarder.sweep(gone);
    }
    const live = new Set(await versions());
    for (const name of await names(p.records)) {
      const m = /^(\d+)\.(json|rolled-back\.json)$/.exec(name);
      // Below `top`, a record whose dir is gone and any tombstone are no longer needed to keep numbers unique.
      if (m && Number(m[1]) < top && (m[2] !== 'json' || !live.has(Number(m[1])))) await rm(path.join(p.records, name), { force: true });
    }
  }

  async function swap(model: Verified, record: ServedRecord, ctx: SwapContext): Promise<SwapResult> {
    ctx.signal.throwIfAborted();
    if (l.fsync) await fsyncTree(model.dir);
    // Leftovers of the last prune or rollback (kept until now so reload triggers could read them).
    await l.discarder.sweepEntries(p.trash);
    const [prev] = await versions();
    if (prev !== undefined && !(await recordFor(prev))) await writeJsonAtomic(recordOf(prev), initialRecord(), l.fsync);
    const n = await nextVersion();
    await refuseLink(p.records);
    await writeJsonAtomic(p.journal, { op: 'swap', n } satisfies Journal, l.fsync);
    // Crash after: NAME/ untouched; recover() undoes (drops the journal; start() empties staging).
    try {
      await writeJsonAtomic(recordOf(n), record, l.fsync);
      // Crash after: a record without its dir; recover() removes it.
      await mkdir(l.servedPath, { recursive: true });
      // Crash after: at most an empty NAME/ (first model only): the engine sees no version yet.
      await rename(model.dir, versionDir(n));
      // Crash after: NAME/<n> is in, complete (the commit point); recover() keeps it and drops the journal.
    } catch (err) {
      // A failed step (EXDEV, ENOSPC): undone now, as after a crash (NAME/<n> never appeared).
      await recover(ctx).catch((e: unknown) => ctx.log.error({ event: 'swap-undo-failed', err: e }, 'could not undo a failed swap; the next start will'));
      throw err;
    }
    try {
      if (l.fsync) await fsyncPath(l.servedPath);
      await rm(p.journal, { force: true });
      // Crash after: clean; older versions beyond keepBackups go at the next prune.
      await prune(n);
    } catch (err) {
      ctx.log.warn({ event: 'prune-failed', err }, `version ${n} added, but older versions could not be pruned`);
    }
    ctx.log.debug({ event: 'swapped', version: record.version, n, previous: prev ?? null }, `version ${n} added`);
    return { modelDir: versionDir(n), version: record.version, backupPath: prev === undefined ? null : versionDir(prev), record };
  }

  /** Idempotent: run by rollback() and again by recover(). */
  async function finishRollback(n: number): Promise<string | null> {
    if (!(await exists(tombstoneOf(n)))) await writeJsonAtomic(tombstoneOf(n), (await recordFor(n)) ?? initialRecord(), l.fsync);
    // Crash after: recover() finishes (the tombstone keeps <n> from being reused).
    await rm(recordOf(n), { force: true });
    let parked: string | null = null;
    if (await exists(versionDir(n))) parked = await moveOut(n, 'rolled-back');
    // Crash after: NAME/<n> is gone (the commit point); the engine falls back to the next highest version.
    if (l.fsync) await fsyncPath(l.servedPath);
    await rm(p.journal, { force: true });
    return parked;
  }

  async function rollback(ctx: SwapContext): Promise<SwapResult> {
    ctx.signal.throwIfAborted();
    const [top, to] = await versions();
    if (top === undefined || to === undefined) throw new NoBackupError(`no older version under ${l.servedPath} to fall back to`);
    const rec = (await recordFor(to)) ?? initialRecord();
    await writeJsonAtomic(p.journal, { op: 'rollback', n: top } satisfies Journal, l.fsync);
    // Crash after: recover() finishes the rollback (both sides are complete; the decision was made).
    const parked = await finishRollback(top);
    ctx.log.debug({ event: 'rolled-back', removed: top, now: to }, `version ${top} removed; serving ${to}`);
    return { modelDir: versionDir(to), version: rec.version, backupPath: parked, record: rec };
  }

  async function recover(ctx: SwapContext): Promise<'clean' | 'completed' | 'undone'> {
    const j = await readJson<Journal>(p.journal);
    if (!j) return 'clean';
    if (j.op === 'rollback') {
      await finishRollback(j.n);
      ctx.log.warn({ event: 'recover', outcome: 'completed', op: 'rollback', n: j.n }, 'interrupted rollback completed');
      return 'completed';
    }
    if (await exists(versionDir(j.n))) {
      await rm(p.journal, { force: true });
      ctx.log.warn({ event: 'recover', outcome: 'completed', op: 'swap', n: j.n }, 'interrupted swap completed');
      return 'completed';
    }
    await rm(recordOf(j.n), { force: true });
    await rm(p.journal, { force: true });
    ctx.log.warn({ event: 'recover', outcome: 'undone', op: 'swap', n: j.n }, 'interrupted swap undone');
    return 'undone';
  }

  async function backups(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for (const n of (await versions()).slice(1)) {
      const r = (await recordFor(n)) ?? { ...initialRecord(), appliedAt: '' };
      out.push({ path: versionDir(n), version: r.version, fingerprint: r.fingerprint, appliedAt: r.appliedAt });
    }
    return out;
  }

  return { name: 'versioned', current, swap, rollback, recover, backups };
}
