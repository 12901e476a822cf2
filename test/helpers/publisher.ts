/** A producer for publish's e2e tests: version n of a small model (every file names n) plus a binary part. */
import { rm } from 'node:fs/promises';
import { MiB, pseudoRandom } from './bytes.js';
import { md5, modelFiles, writeTree, type ModelFiles } from './producer.js';

/** Version n; `embedding.bin` changes every other version (so half the publishes reuse it). */
export function versionFiles(n: number, embeddingBytes = 2 * MiB): ModelFiles {
  return modelFiles(n, { 'embedding.bin': pseudoRandom(embeddingBytes, 1000 + (n >> 1)) });
}

/** Writes version n into `dir` (emptied first). */
export async function writeVersion(dir: string, n: number, embeddingBytes?: number): Promise<ModelFiles> {
  const files = versionFiles(n, embeddingBytes);
  await rm(dir, { recursive: true, force: true });
  await writeTree(dir, files);
  return files;
}

/** `md5 path` pairs of a model's files, sorted by path: what execFingerprint() prints for a served model. */
export function fingerprint(files: ModelFiles): string {
  return Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([p, data]) => `${md5(data)} ${p}`)
    .join(';');
}

/** A shell command for --exec: one line per served model, `md5 path` pairs of its files (not ours), sorted. */
export function execFingerprint(log: string): string {
  return `cd "$MODEL_DIR" && find . -type f ! -name fluid_time_file | sed 's|^\\./||' | sort | while read -r f; do printf '%s %s;' "$(md5sum < "$f" | cut -d' ' -f1)" "$f"; done | sed 's/;$//' >> ${JSON.stringify(log)} && echo >> ${JSON.stringify(log)}`;
}
