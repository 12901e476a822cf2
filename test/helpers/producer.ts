/** A training job stand-in: publishes a model dir then the donefile, into a directory a server serves. */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type ModelFiles = Record<string, string | Buffer>;

/** Deterministic model content for version n: every file names its version. */
export function modelFiles(n: number, extra: ModelFiles = {}): ModelFiles {
  return {
    __model__: `model version ${n}\n`,
    'params/fc_0.w_0': `weights of version ${n}\n`.repeat(50 + n),
    'params/fc_0.b_0': `bias ${n}\n`,
    ...extra,
  };
}

export async function writeTree(dir: string, files: ModelFiles): Promise<void> {
  for (const [p, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), data);
  }
}

let seq = 0;

/**
 * Replaces `<root>/<name>` with `files` (written beside it, renamed in) and then
 * writes the donefile with a new, distinct mtime: what a careful producer does.
 */
export async function publish(root: string, name: string, files: ModelFiles, o: { donefile?: string; donefileContent?: string } = {}): Promise<void> {
  const tmp = path.join(root, `.${name}.incoming`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeTree(tmp, files);
  await rm(path.join(root, name), { recursive: true, force: true });
  await rename(tmp, path.join(root, name));
  await touchDonefile(root, o.donefile ?? 'donefile', o.donefileContent);
}

/** A donefile with an mtime no earlier donefile of this process had (whole seconds apart). */
export async function touchDonefile(root: string, name = 'donefile', content?: string): Promise<void> {
  const f = path.join(root, name);
  // Written beside, stamped, then renamed in: a poll never sees it half-written or with a passing mtime.
  await mkdir(root, { recursive: true });
  await writeFile(`${f}.tmp`, content ?? `${Date.now()}\n`);
  const t = Math.floor(Date.now() / 1000) + 10 * ++seq;
  await utimes(`${f}.tmp`, t, t);
  await rename(`${f}.tmp`, f);
}

/** Every file under dir, relative path → content (sorted). */
export async function readTree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const d of (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) Object.assign(out, await readTree(dir, r));
    else out[r] = await readFile(path.join(dir, r), 'utf8');
  }
  return out;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export const md5 = (s: string | Buffer) => createHash('md5').update(s).digest('hex');

/** Stringified content of `files` for comparison with readTree(). */
export function asStrings(files: ModelFiles): Record<string, string> {
  return Object.fromEntries(
    Object.entries(files)
      .map(([k, v]) => [k, v.toString()])
      .sort(([a], [b]) => (a! < b! ? -1 : 1)),
  );
}
