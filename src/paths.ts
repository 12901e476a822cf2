import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from './errors.js';

/**
 * Every untrusted name (a remote listing entry, a tar entry, a manifest line)
 * passes through here before it touches the local disk. Returns a normalised
 * relative POSIX path or throws UnsafePathError: absolute paths, `..` segments,
 * NUL, backslashes, empty segments and the bare `.` are refused.
 */
export function safeRelative(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new UnsafePathError('refusing an empty remote name');
  }
  if (name.includes('\0')) throw new UnsafePathError(`refusing remote name with NUL: ${JSON.stringify(name)}`);
  if (name.includes('\\')) throw new UnsafePathError(`refusing remote name with a backslash: ${JSON.stringify(name)}`);
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) {
    throw new UnsafePathError(`refusing absolute remote name: ${JSON.stringify(name)}`);
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new UnsafePathError(`refusing remote name ${JSON.stringify(name)}`);
  if (parts.some((p) => p === '..')) {
    throw new UnsafePathError(`refusing remote name that leaves the model directory: ${JSON.stringify(name)}`);
  }
  return parts.join('/');
}

/** A single path segment (a basename): no `/` either. */
export function safeSegment(name: string): string {
  const rel = safeRelative(name);
  if (rel.includes('/')) throw new UnsafePathError(`refusing remote name with a slash: ${JSON.stringify(name)}`);
  return rel;
}

/** Joins an untrusted relative path under root, and checks the result stays inside. */
export function resolveInside(root: string, untrusted: string): string {
  const rel = safeRelative(untrusted);
  const full = path.resolve(root, ...rel.split('/'));
  const r = path.resolve(root);
  if (full !== r && !full.startsWith(r + path.sep)) {
    throw new UnsafePathError(`refusing path outside ${root}: ${JSON.stringify(untrusted)}`);
  }
  return full;
}

/** Joins POSIX remote path pieces: `joinRemote('/a/', 'b', 'c')` = `/a/b/c`. */
export function joinRemote(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/');
  const abs = joined.startsWith('/');
  const segs = joined.split('/').filter((s) => s !== '' && s !== '.');
  return (abs ? '/' : '') + segs.join('/');
}

/** True when both paths (themselves, else their nearest existing ancestors) are on one filesystem. See deviceFor(). */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([deviceFor(a), deviceFor(b)]);
  return da === db;
}

async function deviceOf(p: string): Promise<number> {
  let cur = path.resolve(p);
  for (;;) {
    try {
      return (await stat(cur)).dev;
    } catch (err) {
      const parent = path.dirname(cur);
      if (parent === cur) throw err;
      cur = parent;
    }
  }
}

/** Throws UnsafePathError when `p` is a symbolic link (nothing there is fine). Nothing the tool writes follows one. */
export async function refuseLink(p: string): Promise<void> {
  const st = await lstat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st?.isSymbolicLink()) throw new UnsafePathError(`refusing to follow the symbolic link ${p}: model-monitor never writes through a link it did not make`);
}

/**
 * `mkdir -p p`, then checks that what is there is a real directory: mkdir
 * succeeds silently on a link to one, and everything written or deleted under
 * it would land in the link's target.
 */
export async function ownDir(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  const st = await lstat(p);
  if (st.isSymbolicLink()) throw new UnsafePathError(`refusing to follow the symbolic link ${p}: model-monitor never writes through a link it did not make`);
  if (!st.isDirectory()) throw new UnsafePathError(`${p} is not a directory`);
  return p;
}

/** The entries of `dir` named `<prefix>…` that are symbolic links (planted in the work dir). */
export async function linksAmong(dir: string, prefix: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.filter((x) => x.startsWith(prefix))) {
    if ((await lstat(path.join(dir, n)).catch(() => null))?.isSymbolicLink()) out.push(path.join(dir, n));
  }
  return out;
}

/**
 * The device `p` is on, for the one-filesystem check: `p` itself when it
 * exists (lstat: a mount point at the served path is its own device; a
 * symlink is its parent's), else its nearest existing ancestor.
 */
export async function deviceFor(p: string): Promise<number> {
  const own = await lstat(p).catch(() => null);
  return own ? own.dev : deviceOf(path.dirname(path.resolve(p)));
}
