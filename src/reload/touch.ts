import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ReloadError } from '../errors.js';
import type { ReloadEvent, ReloadTrigger } from './types.js';

/** The whole-second mtime of a file, or 0 when it does not exist. */
async function mtimeSec(file: string): Promise<number> {
  try {
    return Math.floor((await stat(file)).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

/**
 * Sets `file`'s content to a unix timestamp T and its mtime to T, where T is
 * now, or one second past the largest earlier mtime seen if that is not later:
 * Paddle Serving compares whole-second st_mtime, so two swaps in one second
 * still look like two changes. Returns T.
 */
export async function touchStrict(file: string, earlier: readonly string[], memo?: string): Promise<number> {
  const prev = Math.max(0, ...(await Promise.all([file, ...earlier, ...(memo ? [memo] : [])].map(mtimeSec))));
  const t = Math.max(Math.floor(Date.now() / 1000), prev + 1);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${t}\n`);
  await utimes(file, t, t);
  if (memo) {
    await writeFile(memo, `${t}\n`);
    await utimes(memo, t, t);
  }
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
        const t = await touchStrict(target, earlier, o.memo);
        ctx.log.debug({ event: 'touched', file: target, mtime: t }, 'timestamp file touched');
      } catch (err) {
        throw new ReloadError(`cannot touch ${target}`, { cause: err });
      }
    },
  };
}
