/**
 * What a tar may write, decided by resolving paths the way the kernel will,
 * one segment at a time through the links already there, never as strings:
 * `a/l1/..` where `l1 -> ..` is not `a`. A chain of 30 `l1 -> ../` links
 * normalises, as a string, to a path inside the model, and resolves outside it.
 *
 * Two checks: each entry as it streams past (refused early, before anything
 * is written through it), and the unpacked tree on disk once it is complete
 * (authoritative: a link that only escapes through a link extracted after it
 * is caught there, and so is a hard link to a file outside the tree).
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { IntegrityError, UnsafePathError } from './errors.js';
import { safeRelative } from './paths.js';

/** Links followed at most, as the kernel's ELOOP limit. */
const MAX_HOPS = 40;

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/**
 * Resolves `target` from directory `from` (segments relative to the root)
 * through `links` (relative path → link text): the resolved segments, or null
 * when it leaves the root, is absolute, or loops.
 */
export function resolveThrough(links: ReadonlyMap<string, string>, from: readonly string[], target: string): string[] | null {
  if (target.startsWith('/')) return null;
  const stack = [...from];
  let queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const c = queue.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) return null;
      stack.pop();
      continue;
    }
    stack.push(c);
    const link = links.get(stack.join('/'));
    if (link === undefined) continue;
    if (++hops > MAX_HOPS || link.startsWith('/')) return null;
    stack.pop(); // a link resolves from the directory it is in
    queue = [...link.split('/'), ...queue];
  }
  return stack;
}

/** The first proper prefix of `rel` (a parent directory) that is a link, or null. */
function linkedParent(links: ReadonlyMap<string, string>, rel: string): string | null {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (links.has(p)) return p;
  }
  return null;
}

export interface TarEntryLike {
  readonly path: string;
  readonly type: string;
  readonly linkpath?: string | undefined;
}

/**
 * Throws UnsafePathError for an entry that must not be written: a type other
 * than file, directory or link; `..` or an absolute path; a path through a
 * link; a symlink or hard link that resolves (through the links seen so far)
 * outside the root. Records the entry's link in `links` when it is one.
 */
export function checkEntry(e: TarEntryLike, links: Map<string, string> = new Map()): void {
  if (!ALLOWED.has(e.type)) throw new UnsafePathError(`refusing tar entry ${JSON.stringify(e.path)} of type ${e.type}`);
  const rel = safeRelative(e.path.replace(/\/+$/, '') || '.');
  const through = linkedParent(links, rel);
  if (through !== null) throw new UnsafePathError(`refusing tar entry ${rel}: it is inside ${through}, a symbolic link`);
  if (e.type === 'SymbolicLink') {
    const target = e.linkpath ?? '';
    if (path.posix.isAbsolute(target)) throw new UnsafePathError(`refusing tar symlink ${rel} -> ${target}: absolute target`);
    if (resolveThrough(links, rel.split('/').slice(0, -1), target) === null) {
      throw new UnsafePathError(`refusing tar symlink ${rel} -> ${target}: it leaves the model`);
    }
    links.set(rel, target);
  } else if (e.type === 'Link') {
    const target = safeRelative(e.linkpath ?? '');
    if (linkedParent(links, `${target}/x`) !== null || links.has(target)) {
      throw new UnsafePathError(`refusing tar hard link ${rel} -> ${target}: its target is or goes through a symbolic link`);
    }
  } else {
    links.delete(rel); // a later entry of the same name replaces an earlier link
  }
}

interface TreeScan {
  readonly links: Map<string, string>;
  /** `dev:ino` → [names in the tree, nlink] for regular files with more than one link. */
  readonly hard: Map<string, [number, number]>;
}

async function scan(root: string, rel: string, out: TreeScan): Promise<void> {
  for (const d of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    const abs = path.join(root, r);
    if (d.isSymbolicLink()) out.links.set(r, await readlink(abs));
    else if (d.isDirectory()) await scan(root, r, out);
    else {
      const st = await lstat(abs);
      if (st.nlink > 1) {
        const k = `${st.dev}:${st.ino}`;
        const seen = out.hard.get(k);
        out.hard.set(k, [(seen?.[0] ?? 0) + 1, st.nlink]);
      }
    }
  }
}

/**
 * The unpacked model dir as it is on disk: every symlink resolves inside it,
 * every hard-linked file has all its links inside it, and the timestamp file
 * (ours to rewrite after each swap) is not a link.
 */
export async function checkUnpackedTree(modelDir: string, timestampFile: string | null): Promise<void> {
  const t: TreeScan = { links: new Map(), hard: new Map() };
  await scan(modelDir, '', t);
  for (const [rel, target] of t.links) {
    if (resolveThrough(t.links, rel.split('/').slice(0, -1), target) === null) {
      throw new UnsafePathError(`refusing the model: its symlink ${rel} -> ${target} resolves outside it`);
    }
  }
  for (const [, [inside, nlink]] of t.hard) {
    if (inside < nlink) throw new UnsafePathError('refusing the model: it holds a hard link to a file outside it');
  }
  if (timestampFile && t.links.has(timestampFile)) {
    throw new IntegrityError(`the model's ${timestampFile} is a symbolic link; it is the timestamp file model-monitor rewrites after each swap`);
  }
}
