/**
 * What a monitor remembers between runs, beside the served record that swap/
 * keeps: the last sync's outcome and the donefile it rejected (so --validate's
 * "no" is not retried until the donefile changes). Plus the single-instance lock.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LockedError } from './errors.js';
import { readJson, writeJsonAtomic } from './json-file.js';

export interface SyncStatus {
  readonly lastSuccessAt?: string;
  readonly lastOutcome?: 'updated' | 'current' | 'no-donefile' | 'failed' | 'rejected' | 'rolled-back';
  /** Cleared (undefined) by a cycle that did not fail. */
  readonly lastError?: { readonly code: string; readonly message: string } | undefined;
  /** A donefile fingerprint not to pull again until the donefile changes (or `accept`). */
  readonly rejected?: Rejection;
  /** The remote's newest version as the watch process last saw it (freshness.ts). */
  readonly remote?: { readonly version: string; readonly fingerprint: string; readonly seenAt: string } | null;
  /** Since when this replica is not confirmed to serve the remote's newest version; null while it is. */
  readonly staleSince?: string | null;
  /** The last update's traffic: bytes read from the remote vs taken from the served copy. */
  readonly lastUpdate?: { readonly version: string; readonly bytes: number; readonly fetchedBytes: number; readonly reusedBytes: number };
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

/** Who holds a lock: a pid alone can be reused (pid 1 in a container), so its start time and boot too. */
export interface LockHolder {
  readonly pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks after boot), where there is a /proc. */
  readonly start?: string;
  /** /proc/sys/kernel/random/boot_id: a start time means nothing across a reboot. */
  readonly boot?: string;
}

/** A process's start time (Linux /proc), or null where it cannot be read. */
export async function processStart(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

async function bootId(): Promise<string | null> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim() || null;
}

export async function currentHolder(pid = process.pid): Promise<LockHolder> {
  const [start, boot] = await Promise.all([processStart(pid), bootId()]);
  return { pid, ...(start !== null ? { start } : {}), ...(boot !== null ? { boot } : {}) };
}

/** A lock file's holder: JSON, or the bare pid older versions wrote. */
export function parseHolder(text: string): LockHolder | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t) };
  try {
    const j = JSON.parse(t) as Partial<LockHolder>;
    if (typeof j.pid !== 'number' || !Number.isInteger(j.pid) || j.pid < 1) return null;
    return { pid: j.pid, ...(typeof j.start === 'string' ? { start: j.start } : {}), ...(typeof j.boot === 'string' ? { boot: j.boot } : {}) };
  } catch {
    return null;
  }
}

/**
 * Whether the process a lock names is still the one that took it: alive, and
 * (where /proc tells) started at the recorded time in this boot. A bare pid from
 * an older version counts only if that process is a model-monitor.
 */
export async function holderAlive(h: LockHolder): Promise<boolean> {
  if (!alive(h.pid)) return false;
  const now = await currentHolder(h.pid);
  if (now.start === undefined) return true; // no /proc: the pid is all there is
  if (h.start === undefined) {
    const cmd = await readFile(`/proc/${h.pid}/cmdline`, 'utf8').catch(() => '');
    return cmd.includes('model-monitor');
  }
  return h.start === now.start && (h.boot === undefined || now.boot === undefined || h.boot === now.boot);
}

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * One monitor per served path: `<workDir>/<name>.lock` names its holder (pid,
 * start time, boot), created with O_EXCL (which follows no symlink). A lock
 * whose holder is gone (dead, or its pid now another process's) is stale and
 * taken over.
 */
export async function acquireLock(workDir: string, name: string, servedPath: string, onStale?: (h: LockHolder | null) => void): Promise<Lock> {
  await mkdir(workDir, { recursive: true });
  const file = path.join(workDir, `${name}.lock`);
  const me = await currentHolder();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${JSON.stringify(me)}\n`);
      await fh.close();
      return { path: file, release: () => releaseIfOurs(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = parseHolder(await readFile(file, 'utf8').catch(() => ''));
    if (holder && holder.pid !== process.pid && (await holderAlive(holder))) {
      throw new LockedError(holder.pid, `another model-monitor (pid ${holder.pid}) already manages ${servedPath} (lock ${file})`);
    }
    onStale?.(holder);
    await rm(file, { force: true }); // stale: its process is gone, or the pid is someone else's now
  }
  throw new LockedError(0, `could not take the lock ${file}`);
}

async function releaseIfOurs(file: string): Promise<void> {
  const holder = parseHolder(await readFile(file, 'utf8').catch(() => ''));
  if (holder?.pid === process.pid) await rm(file, { force: true });
}
