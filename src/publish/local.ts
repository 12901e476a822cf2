/**
 * The model on the producer's disk: a directory (every regular file under it,
 * symlinks to files followed, symlinked directories refused), or one file (a
 * tar, say). Checked before any remote I/O: a path that does not exist, an
 * empty directory or a name the donefile cannot carry is bad input (exit 2).
 */
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { safeRelative } from '../paths.js';

export interface LocalFile {
  /** Path in the model (POSIX, relative); for a single file, the remote model's name. */
  readonly path: string;
  readonly abs: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface LocalModel {
  readonly kind: 'dir' | 'file';
  readonly root: string;
  readonly files: readonly LocalFile[];
  readonly totalBytes: number;
}

const bad = (msg: string) => new ConfigError('', `publish: ${msg}`);

/** A name an md5sum line can carry and every store can hold. */
function checkName(rel: string, where: string): string {
  if (/[\n\r\\]/.test(rel)) throw bad(`${where}: file names with a newline or a backslash cannot be published (${JSON.stringify(rel)})`);
  try {
    return safeRelative(rel);
  } catch {
    throw bad(`${where}: unsafe file name ${JSON.stringify(rel)}`);
  }
}

async function walk(root: string, rel: string, out: LocalFile[]): Promise<void> {
  const dir = await opendir(path.join(root, rel));
  for await (const d of dir) {
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    const abs = path.join(root, childRel);
    if (d.isDirectory()) {
      await walk(root, childRel, out);
      continue;
    }
    if (!d.isFile() && !d.isSymbolicLink()) continue; // sockets, fifos, devices: not model files
    const s = await stat(abs).catch(() => null);
    if (!s) throw bad(`${abs} is a dangling symlink`);
    if (s.isDirectory()) throw bad(`${abs} is a symlink to a directory: not followed (copy it in, or publish its target)`);
    if (s.isFile()) out.push({ path: checkName(childRel, root), abs, size: s.size, mtimeMs: s.mtimeMs });
  }
}

/** `local` = what the user typed; `modelName` = --remote_model_name (a single file is published under its basename). */
export async function scanLocal(local: string, modelName: string): Promise<LocalModel> {
  const root = path.resolve(local);
  const s = await stat(root).catch((err: NodeJS.ErrnoException) => {
    throw bad(err.code === 'ENOENT' ? `${local} does not exist` : `cannot read ${local}: ${err.message}`);
  });
  if (s.isFile()) {
    const name = checkName(path.posix.basename(modelName), local);
    return { kind: 'file', root, files: [{ path: name, abs: root, size: s.size, mtimeMs: s.mtimeMs }], totalBytes: s.size };
  }
  if (!s.isDirectory()) throw bad(`${local} is neither a directory nor a file`);
  const files: LocalFile[] = [];
  try {
    await walk(root, '', files);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw bad(`cannot read ${local}: ${(err as Error).message}`);
  }
  if (files.length === 0) throw bad(`${local} has no files; refusing to publish an empty model`);
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { kind: 'dir', root, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}
