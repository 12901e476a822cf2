/**
 * What a monitor remembers between runs, beside the served record that swap/
 * keeps: the last sync's outcome and the donefile it rejected (so --validate's
 * "no" is not retried until the donefile changes). Plus the single-instance lock.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LockedError } from './errors.js';
import { readJson, writeJsonAtomic } from './swap/disk.js';

export interface SyncStatus {
  readonly lastSuccessAt?: string;
  readonly lastOutcome?: 'updated' | 'current' | 'no-donefile' | 'failed' | 'rejected' | 'rolled-back';
  readonly lastError?: { readonly code: string; readonly message: string };
  /** A donefile fingerprint not to pull again until the donefile changes (or `accept`). */
  readonly rejected?: Rejection;
}

export interface Rejection {
  readonly fingerprint: string;
  readonly reason: string;
  readonly at: string;
  /** Set by `rollback`: the served model is the one the operator chose. */
  readonly byOperator?: boolean;
}

export function statusPath(workDir: string, name: string): string {
  return path.join(workDir, `${name}.status.json`);
}

export async function readStatus(workDir: string, name: string): Promise<SyncStatus> {
  return (await readJson<SyncStatus>(statusPath(workDir, name))) ?? {};
}

export async function updateStatus(workDir: string, name: string, patch: Partial<SyncStatus>): Promise<SyncStatus> {
  const next = { ...(await readStatus(workDir, name)), ...patch };
  await writeJsonAtomic(statusPath(workDir, name), next);
  return next;
}

/** `accept`: forgets the rejected fingerprint, so the next cycle pulls that donefile. Returns what was cleared. */
export async function clearRejected(workDir: string, name: string): Promise<Rejection | null> {
  const { rejected, ...rest } = await readStatus(workDir, name);
  if (!rejected) return null;
  await writeJsonAtomic(statusPath(workDir, name), rest);
  return rejected;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * One monitor per served path: `<workDir>/<name>.lock` holds the owner's pid,
 * created with O_EXCL. A lock whose pid is dead is stale and taken over.
 */
export async function acquireLock(workDir: string, name: string, servedPath: string): Promise<Lock> {
  await mkdir(workDir, { recursive: true });
  const file = path.join(workDir, `${name}.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { path: file, release: () => releaseIfOurs(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new LockedError(holder, `another model-monitor (pid ${holder}) already manages ${servedPath} (lock ${file})`);
    }
    await rm(file, { force: true }); // stale: its process is gone
  }
  throw new LockedError(0, `could not take the lock ${file}`);
}

async function releaseIfOurs(file: string): Promise<void> {
  const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (holder === process.pid) await rm(file, { force: true });
}
