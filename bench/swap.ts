/**
 * Swap latency: `createRenameSwap(...).swap()` timed on a staged copy of the
 * bench model and on a one-file model, in a row of swaps with --keep-backups K:
 * the first swap has nothing served, the next K move the served model to a
 * backup, the later ones also prune the oldest backup (an rm of a whole model).
 * Each staged tree is a real copy (cp -r), flushed before the timed call.
 *
 * Besides the whole call, the *switch window* is what a reader can see: from the
 * start of rename(served → backup) to the end of rename(staged → served). It is
 * read off fs.promises.rename, wrapped for the bench (syncBuiltinESMExports makes
 * src/swap/rename.ts's named import see the wrapper).
 */
import fsp from 'node:fs/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { silentLogger } from '../src/log.js';
import { brandVerified, type ServedRecord } from '../src/model.js';
import { createRenameSwap } from '../src/swap/rename.js';
import { median } from './matrix.js';
import { runOrThrow, syncDisks } from './proc.js';
import { Discarder } from '../src/swap/discard.js';

export interface SwapFigures {
  readonly label: string;
  readonly bytes: number;
  /** ms: nothing served yet. */
  readonly first: number;
  /** ms: served → backup, staged → served. */
  readonly withBackup: number;
  /** ms, median: as withBackup, plus pruning the backup beyond --keep-backups. */
  readonly withPrune: number;
  /** ms, median over the swaps that had a served model: served path absent. */
  readonly window: number;
  readonly swaps: number;
  readonly keepBackups: number;
}

interface Renamed {
  readonly from: string;
  readonly to: string;
  readonly t0: number;
  readonly t1: number;
}

/** Records every fs.promises.rename while `f` runs. */
async function spyRenames<T>(f: () => Promise<T>): Promise<{ result: T; renames: Renamed[] }> {
  const renames: Renamed[] = [];
  const orig = fsp.rename;
  fsp.rename = async (from, to) => {
    const t0 = performance.now();
    await orig(from, to);
    renames.push({ from: String(from), to: String(to), t0, t1: performance.now() });
  };
  syncBuiltinESMExports();
  try {
    return { result: await f(), renames };
  } finally {
    fsp.rename = orig;
    syncBuiltinESMExports();
  }
}

function switchWindow(renames: readonly Renamed[], servedPath: string): number | null {
  const out = renames.find((r) => r.from === servedPath);
  const inn = renames.find((r) => r.to === servedPath);
  return out && inn ? inn.t1 - out.t0 : null;
}

export async function measureSwaps(
  work: string,
  label: string,
  modelDir: string,
  o: { bytes: number; swaps: number; keepBackups: number },
): Promise<SwapFigures> {
  const { bytes, swaps, keepBackups } = o;
  const local = await mkdtemp(path.join(work, 'swap-'));
  const servedPath = path.join(local, 'model');
  const workDir = path.join(local, '_serving_monitor_tmp');
  const discarder = new Discarder();
  const swap = createRenameSwap({ servedPath, workDir, name: 'model', keepBackups, fsync: false, discarder });
  const ctx = { log: silentLogger(), signal: new AbortController().signal };
  const times: number[] = [];
  const windows: number[] = [];
  try {
    for (let i = 0; i < swaps; i++) {
      const staged = path.join(workDir, 'model.staging', `sync-${i}`, 'model');
      await mkdir(path.dirname(staged), { recursive: true });
      runOrThrow('cp', ['-r', modelDir, staged]);
      syncDisks();
      const record: ServedRecord = { version: `v${i}`, fingerprint: `fp${i}`, remote: 'bench', appliedAt: new Date().toISOString(), files: [] };
      const verified = brandVerified({ dir: staged, aspired: { version: `v${i}`, fingerprint: `fp${i}`, remoteModel: 'model' }, files: [] });
      const t0 = performance.now();
      const { renames } = await spyRenames(() => swap.swap(verified, record, ctx));
      times.push(performance.now() - t0);
      const w = switchWindow(renames, servedPath);
      if (w !== null) windows.push(w);
      await rm(path.dirname(staged), { recursive: true, force: true });
    }
  } finally {
    await rm(local, { recursive: true, force: true });
    syncDisks();
  }
  return {
    label,
    bytes,
    first: times[0] ?? NaN,
    withBackup: median(times.slice(1, keepBackups + 1)),
    withPrune: median(times.slice(keepBackups + 1)),
    window: median(windows),
    swaps,
    keepBackups,
  };
}

/** A one-file model dir for the "tiny" side of the comparison. */
export async function tinyModel(work: string): Promise<string> {
  const dir = path.join(work, 'tiny-model');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'params'), 'x'.repeat(4096));
  return dir;
}
