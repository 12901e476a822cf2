/**
 * The staging area of one donefile version: `<root>/v-<hash of fingerprint>/`.
 * Keyed by the fingerprint, so a sync interrupted by a crash or a dropped
 * connection resumes where it stopped as long as the donefile is unchanged:
 * files listed in `done.jsonl` (appended as each completes, with size and md5)
 * are kept, a partial file resumes from its size. Other versions' staging is
 * removed. Nothing here is ever served without passing verify.
 */
import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from './model.js';

export interface StagingArea {
  readonly dir: string;
  readonly modelDir: string;
  /** A completed file from an earlier, interrupted attempt at this same version. */
  completed(p: string, size: number): Promise<FileRecord | null>;
  markDone(r: FileRecord): Promise<void>;
}

export function stagingDirFor(root: string, fingerprint: string): string {
  return path.join(root, `v-${createHash('sha1').update(fingerprint).digest('hex').slice(0, 16)}`);
}

export async function openStaging(root: string, fingerprint: string, fresh: boolean): Promise<StagingArea> {
  const dir = stagingDirFor(root, fingerprint);
  await mkdir(root, { recursive: true });
  for (const n of await readdir(root)) {
    if (path.join(root, n) !== dir) await rm(path.join(root, n), { recursive: true, force: true });
  }
  if (fresh) await rm(dir, { recursive: true, force: true });
  const modelDir = path.join(dir, 'model');
  await mkdir(modelDir, { recursive: true });
  const journal = path.join(dir, 'done.jsonl');
  const done = new Map<string, FileRecord>();
  const text = await readFile(journal, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    try {
      const r = JSON.parse(line) as FileRecord;
      if (typeof r.path === 'string' && typeof r.size === 'number') done.set(r.path, r);
    } catch {
      /* a torn last line from a crash: that file is simply not complete */
    }
  }
  return {
    dir,
    modelDir,
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
