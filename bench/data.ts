/**
 * The bench model, built once: one 512 MiB file and 256 files of 2 MiB (about
 * 1 GiB; MM_BENCH_MIB scales it for a quick try), incompressible and distinct
 * per file, written under `<root>/models/model` with a timestamp donefile at
 * `<root>/models/donefile`. Servers get hardlinked copies (`cp -al`) of that
 * tree, so every server and tool reads the same bytes from the same disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { runOrThrow } from './proc.js';

const MiB = 1024 * 1024;

export interface DataFile {
  /** Relative to the model dir. */
  readonly path: string;
  readonly size: number;
  readonly md5: string;
}

export interface Dataset {
  /** Holds `models/model/…` and `models/donefile`. */
  readonly root: string;
  readonly files: readonly DataFile[];
  readonly totalBytes: number;
}

/** Total model size in MiB (default 1024: 512 MiB + 256 × 2 MiB). */
export function modelMiB(): number {
  const n = Number(process.env.MM_BENCH_MIB);
  return Number.isFinite(n) && n >= 16 ? n : 1024;
}

async function writeFileFrom(file: string, size: number, pattern: Buffer, seed: number): Promise<string> {
  const h = createHash('md5');
  const out = createWriteStream(file);
  const chunk = 4 * MiB;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const start = (seed * 7919 + off / chunk) % (pattern.length - chunk);
    const c = Buffer.from(pattern.subarray(start, start + n));
    c.writeUInt32LE(seed, 0); // distinct per file, even where the pattern repeats
    h.update(c);
    if (!out.write(c)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  await chmod(file, 0o644);
  return h.digest('hex');
}

export async function buildDataset(root: string, mib = modelMiB()): Promise<Dataset> {
  const total = mib * MiB;
  const big = total / 2;
  const shard = Math.floor(total / 2 / 256);
  const modelDir = path.join(root, 'models', 'model');
  await mkdir(modelDir, { recursive: true, mode: 0o755 });
  await chmod(path.join(root, 'models'), 0o755);
  const pattern = randomBytes(32 * MiB);
  const files: DataFile[] = [{ path: 'embedding.bin', size: big, md5: await writeFileFrom(path.join(modelDir, 'embedding.bin'), big, pattern, 1) }];
  for (let i = 0; i < 256; i++) {
    const name = `shard-${String(i).padStart(3, '0')}.bin`;
    files.push({ path: name, size: shard, md5: await writeFileFrom(path.join(modelDir, name), shard, pattern, 100 + i) });
  }
  await writeDonefile(path.join(root, 'models', 'donefile'), `${Date.now()}\n`, 0);
  return { root, files, totalBytes: files.reduce((n, f) => n + f.size, 0) };
}

/** A donefile with an mtime `bumpS` seconds past now (FTP MDTM has whole seconds). */
export async function writeDonefile(file: string, content: string, bumpS: number): Promise<void> {
  await writeFile(file, content);
  await chmod(file, 0o644);
  const t = Math.floor(Date.now() / 1000) + bumpS;
  await utimes(file, t, t);
}

export function manifestOf(files: readonly DataFile[]): string {
  return files.map((f) => `${f.md5}  ${f.path}`).join('\n') + '\n';
}

/** Hardlinks `<data.root>/models` to `<dest>/models` (same disk, no copy). */
export function linkModels(data: Dataset, dest: string): void {
  runOrThrow('cp', ['-al', path.join(data.root, 'models'), path.join(dest, 'models')]);
}

/**
 * Replaces `file` (a hardlink shared with other trees) by a new inode with new
 * content of the same size: the producer's "one file changed".
 */
export async function replaceFile(file: string, size: number): Promise<string> {
  const tmp = `${file}.new`;
  const md5 = await writeFileFrom(tmp, size, randomBytes(Math.max(8 * MiB, 2 * size)), 4242);
  await rename(tmp, file);
  return md5;
}

/** Checks that `dir` holds every model file at its size; returns what is wrong, or null. */
export async function checkTree(dir: string, data: Dataset): Promise<string | null> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  for (const f of data.files) {
    if (!names.has(f.path)) return `${f.path} missing in ${dir}`;
    const s = await stat(path.join(dir, f.path));
    if (s.size !== f.size) return `${f.path}: ${s.size} bytes, want ${f.size}`;
  }
  return null;
}

/** Unsigned streaming PUTs into s3rver (it checks no signature), `parallel` at a time. */
export async function uploadToS3(endpoint: string, bucket: string, data: Dataset, parallel = 4): Promise<void> {
  const items = [
    ...data.files.map((f) => ['models/model/' + f.path, path.join(data.root, 'models', 'model', f.path)]),
    ['models/donefile', path.join(data.root, 'models', 'donefile')],
  ] as const;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      const [key, file] = items[i]!;
      await putFile(`${endpoint}/${bucket}/${key}`, file);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

async function putFile(url: string, file: string): Promise<void> {
  const size = (await stat(file)).size;
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': size, 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(file).on('error', reject).pipe(req);
  });
}
