/**
 * JSON files written atomically (tmp + rename: a reader sees the old or the
 * new, never half) and read back tolerantly, plus fsync of a path. Used for the
 * served records, the swap journals (swap/) and the status file (state.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes JSON to a tmp file beside `file`, then renames it over. */
export async function writeJsonAtomic(file: string, value: unknown, fsync = false): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  // 'wx' (O_EXCL) creates a new file and follows no link; rename() replaces a link at `file`, never its target.
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { flag: 'wx' });
  if (fsync) await fsyncPath(tmp);
  await rename(tmp, file);
  if (fsync) await fsyncPath(path.dirname(file));
}

/** The JSON in `file`, or null when there is none (or only a torn one, from a crash before --fsync). */
export async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
