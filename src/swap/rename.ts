/**
 * `--swap rename`: the served model is a plain directory. A swap is two renames
 * on one filesystem (served → backup, staged → served) under a journal, so a
 * crash at any point is finished or undone by recover(). Directories are never
 * edited in place: a reader holding the old directory keeps a complete model.
 *
 * Which tree is served is decided by identity, never by names: the journal
 * records the incoming tree's device and inode (a rename keeps them), and so
 * does the served record. recover() finishes a swap only when the served path
 * is that very tree (or when the tree is still whole beside it), and current()
 * trusts the record only while the served directory is the one it names. A
 * swap that failed half-way (EBUSY, EXDEV, ENOSPC), whose staging was then
 * deleted, can therefore never be "finished" over the old directory.
 */
import { lstat, rename, rm } from 'node:fs/promises';
import { ownDir } from '../paths.js';
import { NoBackupError } from '../errors.js';
import type { ServedRecord, Verified } from '../model.js';
import { fsyncPath, readJson, writeJsonAtomic } from '../json-file.js';
import { exists, fsyncTree, initialRecord, listBackups, nextBackupSeq, pruneBackups, workPaths } from './disk.js';
import path from 'node:path';
import type { BackupInfo, SwapContext, SwapLayout, SwapResult, SwapStrategy } from './types.js';

interface Journal {
  readonly op: 'swap' | 'rollback';
  /** The complete tree that goes in… */
  readonly incoming: string;
  /** …and its identity (`dev:ino`), which the rename keeps. */
  readonly incomingId: string;
  readonly incomingRecord: ServedRecord;
  /** Where the served tree goes (a backup dir), with its record. */
  readonly outgoing: string | null;
  readonly outgoingRecordPath: string | null;
}

/** `dev:ino` of what is at `p` (not following a link), or null when nothing is. */
export async function dirId(p: string): Promise<string | null> {
  const st = await lstat(p).catch(() => null);
  return st ? `${st.dev}:${st.ino}` : null;
}

/** Whether `dir` still holds every file of `r` at its recorded size (a tree a crash or a cleanup may have cut). */
async function whole(dir: string, r: ServedRecord): Promise<boolean> {
  for (const f of r.files) {
    const st = await lstat(path.join(dir, ...f.path.split('/'))).catch(() => null);
    if (!st?.isFile() || st.size !== f.size) return false;
  }
  return true;
}

export function createRenameSwap(l: SwapLayout): SwapStrategy {
  const w = workPaths(l);

  async function current(): Promise<SwapResult | null> {
    const rec = await readJson<ServedRecord>(w.record);
    if (!rec) return null;
    const id = await dirId(l.servedPath);
    // No record without its directory, and none that names another directory than the one served.
    if (id === null || (rec.dirId !== undefined && rec.dirId !== id)) return null;
    return { modelDir: l.servedPath, version: rec.version, backupPath: null, record: rec };
  }

  /** The served path is the incoming tree: record it and drop the journal. Idempotent. */
  async function commit(j: Journal): Promise<void> {
    await writeJsonAtomic(w.record, j.incomingRecord, l.fsync);
    // Crash after: journal left over; recover() sees the incoming tree served: rewrites the record, done.
    await rm(w.journal, { force: true });
  }

  /** Puts the outgoing tree back if it was moved, drops an orphan backup record and the journal. Idempotent. */
  async function undo(j: Journal): Promise<void> {
    if (j.outgoing && !(await exists(l.servedPath)) && (await exists(j.outgoing))) await rename(j.outgoing, l.servedPath);
    if (j.outgoingRecordPath && j.outgoing && !(await exists(j.outgoing))) await rm(j.outgoingRecordPath, { force: true });
    await rm(w.journal, { force: true });
  }

  async function apply(j: Journal, ctx: SwapContext): Promise<void> {
    ctx.signal.throwIfAborted();
    await writeJsonAtomic(w.journal, j, l.fsync);
    // Crash after: journal names incoming (complete) and outgoing (still served): recover() undoes (drops journal).
    try {
      if (j.outgoing && (await exists(l.servedPath))) {
        await ownDir(path.dirname(j.outgoing));
        const old = await readJson<ServedRecord>(w.record);
        if (old && j.outgoingRecordPath) await writeJsonAtomic(j.outgoingRecordPath, old, l.fsync);
        await rename(l.servedPath, j.outgoing);
        // Crash after: nothing at the served path for an instant; recover() completes the swap (incoming is whole).
      }
      await rename(j.incoming, l.servedPath);
      // Crash after: the served path is the incoming tree (the commit point); recover() writes its record.
    } catch (err) {
      // A failed rename (EBUSY on a mount point, EXDEV, ENOSPC for the backup record): the old tree goes back.
      await undo(j).catch((e: unknown) => ctx.log.error({ event: 'swap-undo-failed', err: e }, 'could not undo a failed swap; recover() will'));
      throw err;
    }
    await commit(j);
    if (l.fsync) await fsyncPath(path.dirname(l.servedPath));
  }

  async function swap(model: Verified, record: ServedRecord, ctx: SwapContext): Promise<SwapResult> {
    if (l.fsync) await fsyncTree(model.dir);
    const prev = await current();
    const seq = await nextBackupSeq(w.backups);
    const hasServed = await exists(l.servedPath);
    const id = await dirId(model.dir);
    if (id === null) throw new Error(`staged model ${model.dir} is gone`);
    const incomingRecord: ServedRecord = { ...record, dirId: id };
    const j: Journal = {
      op: 'swap',
      incoming: model.dir,
      incomingId: id,
      incomingRecord,
      outgoing: hasServed ? path.join(w.backups, String(seq)) : null,
      outgoingRecordPath: hasServed ? path.join(w.backups, `${seq}.json`) : null,
    };
    if (hasServed && !prev) {
      // A model we did not put there (the user's initial model, or one the record no longer names): keep it as a
      // backup with a synthetic record.
      const foreign = await dirId(l.servedPath);
      await writeJsonAtomic(w.record, { ...initialRecord(), ...(foreign ? { dirId: foreign } : {}) });
    }
    await apply(j, ctx);
    await tidy(ctx);
    ctx.log.debug({ event: 'swapped', version: record.version, backup: j.outgoing }, 'swapped');
    return { modelDir: l.servedPath, version: record.version, backupPath: j.outgoing, record: incomingRecord };
  }

  /** After the commit: pruning old backups. Its failure is logged, not thrown: the swap itself is done. */
  async function tidy(ctx: SwapContext): Promise<void> {
    await pruneBackups(w.backups, l.keepBackups, l.discarder).catch((err: unknown) =>
      ctx.log.warn({ event: 'prune-failed', err }, 'could not prune old backups'),
    );
  }

  async function rollback(ctx: SwapContext): Promise<SwapResult> {
    const [newest] = await listBackups(w.backups);
    if (!newest) throw new NoBackupError(`no backup of ${l.servedPath} to roll back to`);
    const rec = await readJson<ServedRecord>(newest.recordPath);
    if (!rec) throw new NoBackupError(`backup ${newest.path} has no record`);
    const id = await dirId(newest.path);
    if (id === null) throw new NoBackupError(`backup ${newest.path} is gone`);
    // The rolled-back-from model is parked beside the backups (not one itself, it has no record) until the
    // next prune, so reload triggers can still read its timestamp file.
    const seq = await nextBackupSeq(w.backups);
    const incomingRecord: ServedRecord = { ...rec, dirId: id };
    const j: Journal = {
      op: 'rollback',
      incoming: newest.path,
      incomingId: id,
      incomingRecord,
      outgoing: path.join(w.backups, `rolled-back-${seq}`),
      outgoingRecordPath: null,
    };
    await apply(j, ctx);
    await rm(newest.recordPath, { force: true });
    return { modelDir: l.servedPath, version: rec.version, backupPath: j.outgoing, record: incomingRecord };
  }

  async function recover(ctx: SwapContext): Promise<'clean' | 'completed' | 'undone'> {
    const j = await readJson<Journal>(w.journal);
    if (!j) return 'clean';
    const served = await dirId(l.servedPath);
    // Only the very tree the journal names is ever finished: never whatever else sits at the served path.
    if (served !== null && served === j.incomingId) {
      await commit(j);
      ctx.log.warn({ event: 'recover', outcome: 'completed', version: j.incomingRecord.version }, 'interrupted swap completed');
      return 'completed';
    }
    if (served === null && (await dirId(j.incoming)) === j.incomingId && (await whole(j.incoming, j.incomingRecord))) {
      // Crashed between the two renames: nothing is served and the incoming tree is whole: put it in.
      await rename(j.incoming, l.servedPath);
      await commit(j);
      ctx.log.warn({ event: 'recover', outcome: 'completed', version: j.incomingRecord.version }, 'interrupted swap completed');
      return 'completed';
    }
    await undo(j);
    ctx.log.warn({ event: 'recover', outcome: 'undone' }, 'interrupted swap undone');
    return 'undone';
  }

  async function backups(): Promise<BackupInfo[]> {
    return (await listBackups(w.backups)).map(({ path: p, version, fingerprint, appliedAt }) => ({
      path: p,
      version,
      fingerprint,
      appliedAt,
    }));
  }

  return { name: 'rename', current, swap, rollback, recover, backups };
}
