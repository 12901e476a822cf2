/**
 * Disk helpers every swap strategy shares: paths in the work dir, numbered
 * backups with their records, pruning, and --fsync of a tree. (Atomic JSON is
 * json-file.ts; background deletion discard.ts.)
 */
import { readdir, rm, lstat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, readJson } from '../json-file.js';
import type { ServedRecord } from '../model.js';
import { refuseLink } from '../paths.js';
import type { Discarder } from './discard.js';
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

/** fsync every file and directory under root, then root itself (--fsync). */
export async function fsyncTree(root: string): Promise<void> {
  for (const d of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, d.name);
    if (d.isDirectory()) await fsyncTree(p);
    else if (d.isFile()) await fsyncPath(p);
  }
  await fsyncPath(root);
}

/** The record of a model no record names (the user's initial model, or one whose record was lost): kept as a backup like any other. */
export function initialRecord(): ServedRecord {
  return { version: 'initial', fingerprint: 'unknown', remote: '', appliedAt: new Date().toISOString(), files: [] };
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
  const seqs = names
    .map((n) => /^(\d+)(\.json)?$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
  return seqs.length ? Math.max(...seqs) + 1 : 1;
}

/**
 * Removes backups beyond `keep`, oldest first; also dirs or records left without
 * their pair. Decided from one readdir (a backup is `<seq>/` with `<seq>.json`),
 * without reading the records: this runs inside every swap.
 */
export async function pruneBackups(dir: string, keep: number, discarder: Discarder): Promise<void> {
  // Whatever a crash left in the trash goes too.
  await discarder.sweepEntries(`${dir}.trash`);
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
    else await discarder.discard(path.join(dir, n), dir);
  }
}
