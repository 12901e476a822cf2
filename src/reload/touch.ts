import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ReloadError } from '../errors.js';
import type { ReloadEvent, ReloadTrigger } from './types.js';

/** The whole-second mtime of a path (a link's own, never its target's), or 0 when nothing is there. */
async function mtimeSec(file: string): Promise<number> {
  try {
    return Math.floor((await lstat(file)).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

/**
 * The timestamp file inside the served model, rewritten where it is but never
 * through a link: O_NOFOLLOW refuses a symlink (a tar's `fluid_time_file ->
 * ../../etc/x`), which is then removed (the link itself, not its target) and
 * replaced by a regular file; a file with other hard links (`fluid_time_file`
 * linked to `__model__`) is replaced too, so the other name keeps its bytes.
 * No temporary file appears in the model (an engine or a scanner lists it).
 */
async function stampInPlace(file: string, t: number): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;
  let fh = await open(file, flags, 0o644).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ELOOP') throw err;
    await unlink(file);
    return open(file, flags | constants.O_EXCL, 0o644);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (st.nlink > 1) {
      await fh.close();
      await unlink(file);
      fh = await open(file, flags | constants.O_EXCL, 0o644);
    }
    await fh.truncate(0);
    await fh.write(`${t}\n`, 0);
    await fh.utimes(t, t);
  } finally {
    await fh.close();
  }
}

/**
 * A file of ours (the work dir's mirror of the last second stamped): written
 * under a fresh name beside it (O_EXCL follows no link; the name matches the
 * `<name>.*.tmp` start-up clean-up) and renamed over it, which replaces a
 * planted link rather than writing through it.
 */
async function stampByRename(file: string, t: number): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(`${t}\n`);
    await fh.utimes(t, t);
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Sets `file`'s content to a unix timestamp T and its mtime to T, where T is
 * now, or one second past the largest earlier mtime seen if that is not later:
 * Paddle Serving compares whole-second st_mtime, so two swaps in one second
 * still look like two changes. Returns T.
 */
export async function touchStrict(file: string, earlier: readonly string[], memo?: string, inPlace = false): Promise<number> {
  const prev = Math.max(0, ...(await Promise.all([file, ...earlier, ...(memo ? [memo] : [])].map(mtimeSec))));
  const t = Math.max(Math.floor(Date.now() / 1000), prev + 1);
  await mkdir(path.dirname(file), { recursive: true });
  if (inPlace) {
    // --touch PATH is the operator's own file: touched where it is (through a link they made, if it is one).
    await writeFile(file, `${t}\n`);
    await utimes(file, t, t);
  } else {
    await stampInPlace(file, t);
  }
  if (memo) await stampByRename(memo, t);
  return t;
}

/**
 * The Paddle timestamp file inside the served model (`fluid_time_file`), or
 * `--touch PATH` anywhere. The previous model's copy (now a backup) counts as
 * "earlier", so the new one is always strictly newer.
 */
export function createTouchTrigger(o: { readonly file: string; readonly inModel: boolean; readonly memo?: string }): ReloadTrigger {
  return {
    name: o.inModel ? `timestamp-file ${o.file}` : `touch ${o.file}`,
    async fire(e: ReloadEvent, ctx) {
      const target = o.inModel ? path.join(e.modelDir, o.file) : o.file;
      const earlier = o.inModel && e.previousDir ? [path.join(e.previousDir, o.file)] : [];
      try {
        const t = await touchStrict(target, earlier, o.memo, !o.inModel);
        ctx.log.debug({ event: 'touched', file: target, mtime: t }, 'timestamp file touched');
      } catch (err) {
        throw new ReloadError(`cannot touch ${target}`, { cause: err });
      }
    },
  };
}
