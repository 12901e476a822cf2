/**
 * `--swap symlink` (git-sync's publishSymlink): the served path is a relative
 * symlink to `<workDir>/<name>.versions/<seq>/`. A swap renames the verified
 * tree in as a new `<seq>`, makes a new link under a tmp name beside the
 * served path and rename()s it over the old link: one atomic step, so a
 * reader resolves the old complete model or the new one, never a mix and
 * never nothing. Old versions stay as backups (`<seq>/` + `<seq>.json`, the
 * same pairs disk.ts lists), pruned to `keepBackups`.
 *
 * The link is the commit point and the only record of what is served:
 * current() reads it. A swap the link does not yet point at is undone by
 * recover(); one it points at is finished. A rollback is always finished
 * (both sides are complete models and the decision was made).
 *
 * A real directory at the served path (a first run after `--swap rename`, or
 * the user's initial model) becomes the newest backup during the first swap.
 * rename() cannot put a symlink over a directory, so that one swap is two
 * back-to-back renames (dir → backup, tmp link → served path) with nothing at
 * the served path between the two system calls (Linux renameat2
 * RENAME_EXCHANGE would close it but Node does not expose it); a crash between
 * them is completed by recover(). Every later swap is one rename.
 */
import { lstat, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { NoBackupError } from '../errors.js';
import { ownDir } from '../paths.js';
import type { ServedRecord, Verified } from '../model.js';
import { fsyncPath, readJson, writeJsonAtomic } from '../json-file.js';
import { exists, fsyncTree, initialRecord, listBackups, nextBackupSeq, pruneBackups, workPaths } from './disk.js';
import type { BackupInfo, SwapContext, SwapLayout, SwapResult, SwapStrategy } from './types.js';

type Journal =
  | {
      readonly op: 'swap';
      /** The version dir the link will point at. */
      readonly seq: number;
      /** The version the served path held (link target, or the converted dir's new seq). */
      readonly previous: number | null;
      /** A real directory at the served path moved to this seq as a backup (first run). */
      readonly convert: number | null;
    }
  | { readonly op: 'rollback'; readonly from: number; readonly to: number };

/** What is at the served path. */
type LinkState = { readonly kind: 'none' } | { readonly kind: 'dir' } | { readonly kind: 'link'; readonly seq: number | null; readonly target: string };

export function symlinkPaths(l: SwapLayout) {
  const dir = path.dirname(l.servedPath);
  return {
    versions: path.join(l.workDir, `${l.name}.versions`),
    journal: path.join(l.workDir, `${l.name}.symlink-journal.json`),
    /** Beside the served path: rename() over it must stay in one directory. */
    tmpLink: path.join(dir, `.${path.basename(l.servedPath)}.link-tmp`),
  };
}

export function createSymlinkSwap(l: SwapLayout): SwapStrategy {
  const p = symlinkPaths(l);
  const versionDir = (seq: number) => path.join(p.versions, String(seq));
  const recordOf = (seq: number) => path.join(p.versions, `${seq}.json`);

  async function linkState(): Promise<LinkState> {
    let st;
    try {
      st = await lstat(l.servedPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
      throw err;
    }
    if (!st.isSymbolicLink()) return { kind: 'dir' };
    const target = await readlink(l.servedPath);
    const abs = path.resolve(path.dirname(l.servedPath), target);
    const ours = path.dirname(abs) === p.versions && /^\d+$/.test(path.basename(abs));
    return { kind: 'link', seq: ours ? Number(path.basename(abs)) : null, target };
  }

  /** Points the served path at `seq`: a new link under the tmp name, renamed over the old one. */
  async function publish(seq: number): Promise<void> {
    await rm(p.tmpLink, { force: true });
    await symlink(path.relative(path.dirname(l.servedPath), versionDir(seq)), p.tmpLink);
    // Crash after: a stray tmp link beside the served path; the served path is unchanged; recover() removes it.
    await rename(p.tmpLink, l.servedPath);
    // Crash after: the served path resolves to <seq> (the commit point); recover() finishes the bookkeeping.
    if (l.fsync) await fsyncPath(path.dirname(l.servedPath));
  }

  async function current(): Promise<SwapResult | null> {
    const s = await linkState();
    if (s.kind === 'dir') {
      // Not converted yet: a directory a rename swap left, with its record.
      const rec = await readJson<ServedRecord>(workPaths(l).record);
      return rec ? { modelDir: l.servedPath, version: rec.version, backupPath: null, record: rec } : null;
    }
    if (s.kind !== 'link' || s.seq === null) return null;
    const rec = await readJson<ServedRecord>(recordOf(s.seq));
    if (!rec || !(await exists(versionDir(s.seq)))) return null;
    return { modelDir: l.servedPath, version: rec.version, backupPath: null, record: rec };
  }

  async function swap(model: Verified, record: ServedRecord, ctx: SwapContext): Promise<SwapResult> {
    ctx.signal.throwIfAborted();
    if (l.fsync) await fsyncTree(model.dir);
    const s = await linkState();
    if (s.kind === 'link' && s.seq === null)
      ctx.log.warn({ event: 'swap-foreign-link', target: s.target }, 'the served path links outside the versions dir; replacing the link');
    await ownDir(p.versions);
    const first = await nextBackupSeq(p.versions);
    const convert = s.kind === 'dir' ? first : null;
    const seq = convert === null ? first : first + 1;
    const previous = s.kind === 'link' ? s.seq : convert;
    const j: Journal = { op: 'swap', seq, previous, convert };
    await writeJsonAtomic(p.journal, j, l.fsync);
    // Crash after: the link is unchanged; recover() undoes (removes whatever of <seq> exists, drops the journal).
    try {
      await writeJsonAtomic(recordOf(seq), record, l.fsync);
      // Crash after: a record without its dir (not a backup: listBackups needs both); recover() removes it.
      await rename(model.dir, versionDir(seq));
      // Crash after: <seq> is complete but nothing links to it; recover() removes it (the engine never saw it).
      if (convert !== null) await convertServedDir(convert);
      await publish(seq);
      // Crash after the link rename: recover() sees the link at <seq> and finishes (drops the journal).
    } catch (err) {
      // A failed step (EXDEV, EBUSY, ENOSPC): undone (or, past a conversion's first rename, finished) now, as after a crash.
      await recover(ctx).catch((e: unknown) => ctx.log.error({ event: 'swap-undo-failed', err: e }, 'could not undo a failed swap; the next start will'));
      throw err;
    }
    try {
      if (convert !== null) await rm(workPaths(l).record, { force: true }); // the rename swap's record now lives in <convert>.json
      await rm(p.journal, { force: true });
      // Crash after: clean; versions beyond keepBackups are removed by the next swap's prune.
      await pruneBackups(p.versions, l.keepBackups + 1, l.discarder);
    } catch (err) {
      ctx.log.warn({ event: 'prune-failed', err }, 'swapped, but could not tidy the versions dir');
    }
    ctx.log.debug({ event: 'swapped', version: record.version, seq, previous }, 'symlink switched');
    return { modelDir: l.servedPath, version: record.version, backupPath: previous === null ? null : versionDir(previous), record };
  }

  /** First run over a real directory: it becomes backup <seq> (its record from a rename swap, else "initial"). */
  async function convertServedDir(seq: number): Promise<void> {
    const rec = (await readJson<ServedRecord>(workPaths(l).record)) ?? initialRecord();
    await writeJsonAtomic(recordOf(seq), rec, l.fsync);
    // Crash after: a record without its dir; recover() undoes the swap and removes it.
    await rename(l.servedPath, versionDir(seq));
    // Crash after: NOTHING at the served path (the one gap, until the next rename in publish()); recover() completes
    // the swap: the journal names <seq+1>, which is complete.
  }

  async function rollback(ctx: SwapContext): Promise<SwapResult> {
    ctx.signal.throwIfAborted();
    const s = await linkState();
    if (s.kind !== 'link' || s.seq === null) throw new NoBackupError(`${l.servedPath} is not a link this monitor made; nothing to roll back to`);
    const from = s.seq;
    const newest = (await listBackups(p.versions)).find((b) => b.seq !== from);
    if (!newest) throw new NoBackupError(`no backup of ${l.servedPath} to roll back to`);
    const rec = (await readJson<ServedRecord>(newest.recordPath)) ?? initialRecord();
    const j: Journal = { op: 'rollback', from, to: newest.seq };
    await writeJsonAtomic(p.journal, j, l.fsync);
    // Crash after: recover() finishes the rollback (the decision is made; both sides are complete).
    await finishRollback(j);
    return { modelDir: l.servedPath, version: rec.version, backupPath: versionDir(from), record: rec };
  }

  /** Idempotent: run by rollback() and again by recover(). */
  async function finishRollback(j: Journal & { op: 'rollback' }): Promise<void> {
    const s = await linkState();
    if (s.kind !== 'link' || s.seq !== j.to) await publish(j.to);
    // The rolled-back-from model stops being a backup (its record goes); its dir stays until the next prune, so
    // the reload triggers can still read its timestamp file. Crash after: recover() drops the journal.
    await rm(recordOf(j.from), { force: true });
    await rm(p.journal, { force: true });
  }

  async function recover(ctx: SwapContext): Promise<'clean' | 'completed' | 'undone'> {
    const j = await readJson<Journal>(p.journal);
    await rm(p.tmpLink, { force: true });
    if (!j) return 'clean';
    if (j.op === 'rollback') {
      await finishRollback(j);
      ctx.log.warn({ event: 'recover', outcome: 'completed', op: 'rollback' }, 'interrupted rollback completed');
      return 'completed';
    }
    const s = await linkState();
    let linked = s.kind === 'link' && s.seq === j.seq;
    if (!linked && s.kind === 'none' && j.convert !== null && (await exists(versionDir(j.seq)))) {
      // Crash between the two renames of a conversion: nothing is served and <seq> is complete: link it.
      await publish(j.seq);
      linked = true;
    }
    if (linked) {
      if (j.convert !== null) await rm(workPaths(l).record, { force: true });
      await rm(p.journal, { force: true });
      ctx.log.warn({ event: 'recover', outcome: 'completed', op: 'swap' }, 'interrupted swap completed');
      return 'completed';
    }
    // The link never moved: the engine never saw <seq>. Remove it (and a conversion's record, if the dir did not move).
    await rm(versionDir(j.seq), { recursive: true, force: true });
    await rm(recordOf(j.seq), { force: true });
    if (j.convert !== null && s.kind === 'dir') await rm(recordOf(j.convert), { force: true });
    await rm(p.journal, { force: true });
    ctx.log.warn({ event: 'recover', outcome: 'undone', op: 'swap' }, 'interrupted swap undone');
    return 'undone';
  }

  async function backups(): Promise<BackupInfo[]> {
    const s = await linkState();
    const cur = s.kind === 'link' ? s.seq : null;
    return (await listBackups(p.versions))
      .filter((b) => b.seq !== cur)
      .map(({ path: bp, version, fingerprint, appliedAt }) => ({ path: bp, version, fingerprint, appliedAt }));
  }

  return { name: 'symlink', current, swap, rollback, recover, backups };
}
