/** The delta scenario of issue 15, shared by test/e2e/delta*.test.ts and bench/delta.test.ts: v1 of a big file, and v2 edited. */
import { readdir, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { MiB, pseudoRandom } from './bytes.js';
import { applyEdits, type Edit } from './edits.js';

/** 8 rewritten regions of `rewrite` bytes spread over the file, `insert` bytes inserted in the middle, `append` bytes appended. */
export function deltaEdits(size: number, o: { rewrite: number; insert: number; append: number }): Edit[] {
  const rewrites: Edit[] = Array.from({ length: 8 }, (_, k) => ({ kind: 'rewrite', at: Math.floor(((k + 0.5) * size) / 8.5), length: o.rewrite }));
  // Offsets are into the file as edited so far: the insert goes after the rewrites, in the middle.
  return [...rewrites, { kind: 'insert', at: Math.floor(size / 2) + o.rewrite, length: o.insert }, { kind: 'append', length: o.append }];
}

export interface DeltaVersions {
  readonly v1: Buffer;
  readonly v2: Buffer;
  readonly changedBytes: number;
}

export function deltaVersions(size: number, o: { rewrite: number; insert: number; append: number }): DeltaVersions {
  const v1 = pseudoRandom(size, 4242);
  const { data: v2, changedBytes } = applyEdits(v1, deltaEdits(size, o));
  return { v1, v2, changedBytes };
}

/** Writes a one-file model dir (`weights.bin`). */
export async function writeModel(dir: string, data: Buffer): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'weights.bin'), data);
}

/** The served `weights.bin` under `<local>/model` for each --swap mode (versioned: the newest numbered dir). */
export async function servedFile(local: string, swap: string, name = 'weights.bin'): Promise<Buffer> {
  const base = path.join(local, 'model');
  if (swap !== 'versioned') return readFile(path.join(base, name));
  const n = (await readdir(base)).filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(b) - Number(a))[0]!;
  return readFile(path.join(base, n, name));
}

export const E2E_DELTA = { size: 64 * MiB, rewrite: 1 * MiB, insert: 1 * MiB, append: 4 * MiB };
