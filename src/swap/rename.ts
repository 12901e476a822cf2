/**
 * `--swap rename`: the served model is a plain directory. A swap is two renames
 * on one filesystem (served → backup, staged → served) under a journal, so a
 * crash at any point is finished or undone by recover(). Directories are never
 * edited in place: a reader holding the old directory keeps a complete model.
 */
import { rename, rm, mkdir } from 'node:fs/promises';
import { NoBackupError } from '../errors.js';
import type { ServedRecord, Verified } from '../model.js';
import {
  exists,
  fsyncPath,
  fsyncTree,
  listBackups,
  nextBackupSeq,
  pruneBackups,
  readJson,
  workPaths,
  writeJsonAtomic,
} from './disk.js';
import path from 'node:path';
import type { BackupInfo, SwapContext, SwapLayout, SwapResult, SwapStrategy } from './types.js';

interface Journal {
  readonly op: 'swap' | 'rollback';
  /** The complete tree that goes in. */
  readonly incoming: string;
  readonly incomingRecord: ServedRecord;
  /** Where the served tree goes (a backup dir), with its record. */
  readonly outgoing: string | null;
  readonly outgoingRecordPath: string | null;
}

export function createRenameSwap(l: SwapLayout): SwapStrategy {
  const w = workPaths(l);

  async function current(): Promise<SwapResult | null> {
    const rec = await readJson<ServedRecord>(w.record);
    if (!rec || !(await exists(l.servedPath))) return null;
    return { servedPath: l.servedPath, version: rec.version, backupPath: null, record: rec };
  }

  /** Steps 2-4 of a swap or rollback: run by apply() and again, idempotently, by recover(). */
  async function finish(j: Journal): Promise<void> {
    // staged → served. Crash after: served is the new complete model; the record is rewritten below.
    if (await exists(j.incoming)) await rename(j.incoming, l.servedPath);
    await writeJsonAtomic(w.record, j.incomingRecord, l.fsync);
    // Crash after: journal left over; recover() sees incoming gone, served present: rewrites the record, done.
    await rm(w.journal, { force: true });
  }

  async function apply(j: Journal, ctx: SwapContext): Promise<void> {
    ctx.signal.throwIfAborted();
    await writeJsonAtomic(w.journal, j, l.fsync);
    // Crash after: journal names incoming (complete) and outgoing (still served): recover() undoes (drops journal).
    if (j.outgoing && (await exists(l.servedPath))) {
      await mkdir(path.dirname(j.outgoing), { recursive: true });
      const old = await readJson<ServedRecord>(w.record);
      if (old && j.outgoingRecordPath) await writeJsonAtomic(j.outgoingRecordPath, old, l.fsync);
      await rename(l.servedPath, j.outgoing);
      // Crash after: nothing at the served path for an instant; recover() completes the swap (incoming is complete).
    }
    await finish(j);
    if (l.fsync) await fsyncPath(path.dirname(l.servedPath));
  }

  async function swap(model: Verified, record: ServedRecord, ctx: SwapContext): Promise<SwapResult> {
    if (l.fsync) await fsyncTree(model.dir);
    const prev = await current();
    const seq = await nextBackupSeq(w.backups);
    const hasServed = await exists(l.servedPath);
    const j: Journal = {
      op: 'swap',
      incoming: model.dir,
      incomingRecord: record,
      outgoing: hasServed ? path.join(w.backups, String(seq)) : null,
      outgoingRecordPath: hasServed ? path.join(w.backups, `${seq}.json`) : null,
    };
    if (hasServed && !prev) {
      // A model we did not put there (the user's initial model): keep it as a backup with a synthetic record.
      await writeJsonAtomic(w.record, unknownRecord());
    }
    await apply(j, ctx);
    await pruneBackups(w.backups, l.keepBackups);
    ctx.log.debug({ event: 'swapped', version: record.version, backup: j.outgoing }, 'swapped');
    return { servedPath: l.servedPath, version: record.version, backupPath: j.outgoing, record };
  }

  async function rollback(ctx: SwapContext): Promise<SwapResult> {
    const [newest] = await listBackups(w.backups);
    if (!newest) throw new NoBackupError(`no backup of ${l.servedPath} to roll back to`);
    const rec = await readJson<ServedRecord>(newest.recordPath);
    if (!rec) throw new NoBackupError(`backup ${newest.path} has no record`);
    // The rolled-back-from model is parked beside the backups (not one itself, it has no record) until the
    // next prune, so reload triggers can still read its timestamp file.
    const seq = await nextBackupSeq(w.backups);
    const j: Journal = {
      op: 'rollback',
      incoming: newest.path,
      incomingRecord: rec,
      outgoing: path.join(w.backups, `rolled-back-${seq}`),
      outgoingRecordPath: null,
    };
    await apply(j, ctx);
    await rm(newest.recordPath, { force: true });
    return { servedPath: l.servedPath, version: rec.version, backupPath: j.outgoing, record: rec };
  }

  async function recover(ctx: SwapContext): Promise<'clean' | 'completed' | 'undone'> {
    const j = await readJson<Journal>(w.journal);
    if (!j) return 'clean';
    const served = await exists(l.servedPath);
    const incoming = await exists(j.incoming);
    if (served && incoming) {
      // Crashed before the served tree moved: nothing happened; drop the journal.
      await rm(w.journal, { force: true });
      ctx.log.warn({ event: 'recover', outcome: 'undone' }, 'interrupted swap undone');
      return 'undone';
    }
    if (!served && !incoming && j.outgoing && (await exists(j.outgoing))) {
      await rename(j.outgoing, l.servedPath);
      await rm(w.journal, { force: true });
      ctx.log.warn({ event: 'recover', outcome: 'undone' }, 'interrupted swap undone');
      return 'undone';
    }
    await finish(j);
    ctx.log.warn({ event: 'recover', outcome: 'completed', version: j.incomingRecord.version }, 'interrupted swap completed');
    return 'completed';
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

function unknownRecord(): ServedRecord {
  return { version: 'initial', fingerprint: 'unknown', remote: '', appliedAt: new Date().toISOString(), files: [] };
}
