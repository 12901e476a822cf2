/**
 * Disk helpers every swap strategy shares: atomic JSON files (tmp + rename),
 * the swap journal, numbered backups with their records, and --fsync.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, writeFile, mkdir, lstat } from 'node:fs/promises';
import path from 'node:path';
import type { ServedRecord } from '../model.js';
import { ownDir, refuseLink } from '../paths.js';
import type { BackupInfo, SwapLayout } from './types.js';

export async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Writes JSON to a tmp file beside `file`, then renames it over: readers see old or new, never half. */
export async function writeJsonAtomic(file: string, value: unknown, fsync = false): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  // 'wx' (O_EXCL) creates a new file and follows no link; rename() replaces a link at `file`, never its target.
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { flag: 'wx' });
  if (fsync) await fsyncPath(tmp);
  await rename(tmp, file);
  if (fsync) await fsyncPath(path.dirname(file));
}

export async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof SyntaxError) return null; // a torn file from before --fsync: treat as absent
    throw err;
  }
}

export async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync every file and directory under root, then root itself (--fsync). */
export async function fsyncTree(root: string): Promise<void> {
  for (const d of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, d.name);
    if (d.isDirectory()) await fsyncTree(p);
    else if (d.isFile()) await fsyncPath(p);
  }
  await fsyncPath(root);
}

/** Paths a strategy uses inside workDir. */
export function workPaths(l: SwapLayout) {
  return {
    record: path.join(l.workDir, `${l.name}.served.json`),
    journal: path.join(l.workDir, `${l.name}.journal.json`),
    backups: path.join(l.workDir, `${l.name}.backups`),
  };
}

export interface Backup extends BackupInfo {
  readonly seq: number;
  readonly recordPath: string;
}

/** Backups (`<seq>/` + `<seq>.json`), newest first. A dir without a record is not a backup. */
export async function listBackups(dir: string): Promise<Backup[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Backup[] = [];
  for (const n of names) {
    const m = /^(\d+)\.json$/.exec(n);
    if (!m) continue;
    const seq = Number(m[1]);
    const rec = await readJson<ServedRecord>(path.join(dir, n));
    if (!rec || !(await exists(path.join(dir, String(seq))))) continue;
    out.push({
      seq,
      path: path.join(dir, String(seq)),
      recordPath: path.join(dir, n),
      version: rec.version,
      fingerprint: rec.fingerprint,
      appliedAt: rec.appliedAt,
    });
  }
  return out.sort((a, b) => b.seq - a.seq);
}

export async function nextBackupSeq(dir: string): Promise<number> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    /* none yet */
  }
  const seqs = names.map((n) => /^(\d+)(\.json)?$/.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]));
  return seqs.length ? Math.max(...seqs) + 1 : 1;
}

const discarding = new Map<string, Promise<void>>();

/**
 * Takes `p` out of the way at once (one rename into `<dir>.trash/`) and deletes it in
 * the background: unlinking a 1 GiB backup takes most of a second, which a swap
 * (and the reload after it) should not wait for. The trash is on the same
 * filesystem, so the rename is as cheap as any other step of the swap.
 */
async function discard(p: string, dir: string): Promise<void> {
  const trash = await ownDir(`${dir}.trash`);
  const to = path.join(trash, `${path.basename(p)}-${randomBytes(4).toString('hex')}`);
  try {
    await rename(p, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  sweep(to);
}

/** Deletes `p` in the background (see discard()); settleDiscards() waits for it. */
export function sweep(p: string): void {
  if (discarding.has(p)) return;
  const job = rm(p, { recursive: true, force: true })
    .catch(() => {})
    .finally(() => discarding.delete(p));
  discarding.set(p, job);
}

/** Sweeps every entry of `dir` (a trash dir), leaving the dir itself. */
export async function sweepEntries(dir: string): Promise<void> {
  await refuseLink(dir);
  for (const n of await readdir(dir).catch(() => [] as string[])) sweep(path.join(dir, n));
}

/** Waits for background deletions (before exit, and in tests). */
export async function settleDiscards(): Promise<void> {
  while (discarding.size > 0) await Promise.all([...discarding.values()]);
}

/**
 * Removes backups beyond `keep`, oldest first; also dirs or records left without
 * their pair. Decided from one readdir (a backup is `<seq>/` with `<seq>.json`),
 * without reading the records: this runs inside every swap.
 */
export async function pruneBackups(dir: string, keep: number): Promise<void> {
  // Whatever a crash left in the trash goes too.
  await sweepEntries(`${dir}.trash`);
  await refuseLink(dir);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const present = new Set(names);
  const paired = names.filter((n) => /^\d+$/.test(n) && present.has(`${n}.json`)).sort((a, b) => Number(b) - Number(a));
  const kept = new Set(paired.slice(0, keep));
  for (const n of names) {
    const base = n.replace(/\.json$/, '');
    if (kept.has(base)) continue;
    if (n.endsWith('.json')) await rm(path.join(dir, n), { force: true });
    else await discard(path.join(dir, n), dir);
  }
}
