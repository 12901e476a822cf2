/**
 * Before any download: the directories model-monitor writes (--local_path and
 * the staging dir under it, or a KServe DEST) must be directories it may write.
 * An unwritable or non-directory path is a configuration error (exit 2, one
 * line naming the path and the access it needs), not a crash that a
 * supervisor would restart forever.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.js';

/** The path itself, or its nearest ancestor that exists (what a `mkdir -p` would write into). */
async function nearestExisting(p: string): Promise<{ at: string; isDir: boolean }> {
  for (let cur = p; ; cur = path.dirname(cur)) {
    const st = await stat(cur).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      if (err.code === 'ENOTDIR') return 'notdir' as const;
      throw err;
    });
    if (st === 'notdir') continue; // a file somewhere above: the ancestor check below names it
    if (st) return { at: cur, isDir: st.isDirectory() };
    if (path.dirname(cur) === cur) return { at: cur, isDir: true };
  }
}

function who(): string {
  return typeof process.getuid === 'function' ? ` (model-monitor runs as uid ${process.getuid()})` : '';
}

/**
 * Why `dir` is unusable, or null: it must be a directory, or creatable as one,
 * that this process may list, enter and write (rwx). `why` says what goes there.
 */
export async function dirProblem(dir: string, why: string): Promise<{ message: string; cause?: unknown } | null> {
  const { at, isDir } = await nearestExisting(path.resolve(dir));
  if (!isDir) {
    const what = at === path.resolve(dir) ? `${at} is not a directory` : `${dir} cannot be created: ${at} is a file, not a directory`;
    return { message: `${what}; it must be a directory for ${why}` };
  }
  try {
    await access(at, constants.R_OK | constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EACCES';
    const created = at === path.resolve(dir) ? '' : ` (to create ${dir})`;
    const ro = code === 'EROFS' ? ' on a read-only filesystem' : '';
    return {
      message: `cannot write to ${at}${created}${ro}: model-monitor needs read, write and search access (rwx) there for ${why}${who()} (${code})`,
      cause: err,
    };
  }
}

async function check(dir: string, flag: string, why: string): Promise<void> {
  const p = await dirProblem(dir, why);
  if (p) throw new ConfigError(flag, p.message, { cause: p.cause });
}

/** --local_path and the staging dir (--local_tmp_path, usually under it; it may exist already, or lie elsewhere). */
export async function checkLocalDirs(c: { readonly servedPath: string; readonly workDir: string }): Promise<void> {
  await check(path.dirname(c.servedPath), 'local-path', 'the served model and its swaps');
  await check(c.workDir, 'local-tmp-path', 'staging, backups and state');
}
