/**
 * The staging area of one donefile version: `<root>/v-<hash of fingerprint>/`.
 * Keyed by the fingerprint, so a sync interrupted by a crash or a dropped
 * connection resumes where it stopped as long as the donefile is unchanged:
 * files listed in `done.jsonl` (appended as each completes, with size and md5)
 * are kept, a partial file resumes from its size, and a file fetched as
 * ranged parts keeps its completed parts (each journalled as it lands). Other versions' staging is
 * removed. Nothing here is ever served without passing verify.
 */
import { createHash } from 'node:crypto';
import { appendFile, lstat, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from './model.js';
import { ownDir, refuseLink } from './paths.js';

export interface StagingArea {
  readonly dir: string;
  readonly modelDir: string;
  /** Where a file fetched as ranged parts is assembled, outside the model dir until it is whole. */
  readonly partsDir: string;
  /** The start offsets of the parts of `p` (at `size` bytes) completed by an earlier attempt. */
  completedParts(p: string, size: number): ReadonlySet<number>;
  markPart(p: string, size: number, start: number): Promise<void>;
  /** Forgets the parts of `p` journalled so far (its parts file is being started anew). */
  resetParts(p: string, size: number): Promise<void>;
  /** A completed file from an earlier, interrupted attempt at this same version. */
  completed(p: string, size: number): Promise<FileRecord | null>;
  markDone(r: FileRecord): Promise<void>;
}

export function stagingDirFor(root: string, fingerprint: string): string {
  return path.join(root, `v-${createHash('sha1').update(fingerprint).digest('hex').slice(0, 16)}`);
}

export async function openStaging(root: string, fingerprint: string, fresh: boolean): Promise<StagingArea> {
  const dir = stagingDirFor(root, fingerprint);
  // Never through a link: emptying a staging root that links elsewhere would empty the link's target.
  await ownDir(root);
  for (const n of await readdir(root)) {
    if (path.join(root, n) !== dir) await rm(path.join(root, n), { recursive: true, force: true }); // rm unlinks a link, never follows it
  }
  if (fresh) await rm(dir, { recursive: true, force: true });
  const modelDir = path.join(dir, 'model');
  await ownDir(dir);
  await ownDir(modelDir);
  const journal = path.join(dir, 'done.jsonl');
  await refuseLink(journal);
  await refuseLink(path.join(dir, 'parts'));
  const done = new Map<string, FileRecord>();
  const parts = new Map<string, Set<number>>();
  const text = await readFile(journal, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    try {
      const r = JSON.parse(line) as FileRecord & { part?: number };
      if (typeof r.path !== 'string' || typeof r.size !== 'number') continue;
      const key = `${r.size}:${r.path}`;
      if (r.part === -1) parts.delete(key);
      else if (typeof r.part === 'number') parts.set(key, (parts.get(key) ?? new Set()).add(r.part));
      else done.set(r.path, r);
    } catch {
      /* a torn last line from a crash: that file is simply not complete */
    }
  }
  return {
    dir,
    modelDir,
    partsDir: path.join(dir, 'parts'),
    completedParts(p, size) {
      return parts.get(`${size}:${p}`) ?? new Set();
    },
    async markPart(p, size, start) {
      await appendFile(journal, JSON.stringify({ path: p, size, part: start }) + '\n');
    },
    async resetParts(p, size) {
      parts.delete(`${size}:${p}`);
      await appendFile(journal, JSON.stringify({ path: p, size, part: -1 }) + '\n');
    },
    async completed(p, size) {
      const r = done.get(p);
      if (!r || r.size !== size) return null;
      const st = await lstat(path.join(modelDir, ...p.split('/'))).catch(() => null);
      return st?.isFile() && st.size === size ? r : null;
    },
    async markDone(r) {
      await appendFile(journal, JSON.stringify(r) + '\n');
    },
  };
}
