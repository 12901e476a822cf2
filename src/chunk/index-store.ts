/**
 * The chunk indexes of the served model (and of the backups a rollback may
 * bring back), kept in the work dir so the next version's files can be built
 * from the served copies' unchanged chunks: `<workDir>/<name>.chunk-indexes/`.
 *
 * Content-addressed: an index is stored as `<sha256 of its bytes>.cdx`, and a
 * served FileRecord names it by that key (`chunkIndex`). So a file is written
 * once whatever names it, a torn or altered file is never mistaken for an
 * index (its bytes must hash to its name), and nothing is ever rewritten in
 * place. `generations.json` lists the keys of the last few served records,
 * newest first; pruning keeps those and deletes every other index.
 *
 * kill -9 at any point: a `.tmp` (removed by the next prune), an index no
 * record names yet (kept while a pull of its version resumes, pruned after the
 * next swap otherwise), or a generations file of the old or the new content
 * (json-file.ts writes it atomically). An index a record names but the store
 * lost is "unknown": that file is pulled whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../json-file.js';
import { ownDir, refuseLink } from '../paths.js';
import { decodeIndex, type ChunkIndex } from './index-format.js';

const KEY = /^[0-9a-f]{64}$/;

export const indexStoreDir = (workDir: string, name: string) => path.join(workDir, `${name}.chunk-indexes`);

const keyOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export class IndexStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, `${key}.cdx`);
  }

  /** Stores an index's bytes (already decoded and checked by the caller); returns its key. */
  async put(bytes: Buffer): Promise<string> {
    const key = keyOf(bytes);
    await ownDir(this.dir);
    const dest = this.file(key);
    if ((await readFile(dest).catch(() => null))?.equals(bytes)) return key;
    const tmp = path.join(this.dir, `${key}.${randomBytes(4).toString('hex')}.tmp`);
    // O_EXCL: a new file, never through a link; rename replaces a link at dest, never its target.
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    // Crash before: a .tmp the next prune removes. After: the index, whole.
    await rename(tmp, dest);
    return key;
  }

  /**
   * The index stored under `key`, checked against the file it must describe;
   * null when it is unknown (absent, altered, or for other bytes).
   */
  async get(key: string, expect: { size: number; md5?: string | undefined }): Promise<ChunkIndex | null> {
    if (!KEY.test(key)) return null;
    const p = this.file(key);
    await refuseLink(p);
    const bytes = await readFile(p).catch(() => null);
    if (!bytes || keyOf(bytes) !== key) return null;
    try {
      return decodeIndex(bytes, p, { size: expect.size, ...(expect.md5 ? { md5: expect.md5 } : {}) });
    } catch {
      return null;
    }
  }

  /**
   * After a swap: `keys` (the new served record's) become the newest
   * generation; `keep` generations are kept (the served model and its
   * backups), every other index and leftover is deleted.
   */
  async prune(keys: readonly string[], keep: number): Promise<void> {
    await ownDir(this.dir);
    const gensFile = path.join(this.dir, 'generations.json');
    await refuseLink(gensFile);
    const old = ((await readJson<string[][]>(gensFile)) ?? []).filter(Array.isArray);
    const gens = [[...keys], ...old].slice(0, Math.max(1, keep));
    await writeJsonAtomic(gensFile, gens);
    const live = new Set(gens.flat().map((k) => `${k}.cdx`));
    for (const n of await readdir(this.dir)) {
      if (n === 'generations.json' || live.has(n)) continue;
      await rm(path.join(this.dir, n), { force: true }); // rm unlinks a link, never follows it
    }
  }
}
