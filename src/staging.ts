/**
 * The staging area of one donefile version: `<root>/v-<hash of fingerprint>/`.
 * Keyed by the fingerprint, so a sync interrupted by a crash or a dropped
 * connection resumes where it stopped as long as the donefile is unchanged:
 * files listed in `done.jsonl` (appended as each completes, with size and md5)
 * are kept, a partial file resumes from its size, and a file fetched as
 * ranged parts keeps its completed parts (each journalled as it lands). Other versions' staging is
 * removed. Nothing here is ever served without passing verify.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from './model.js';
import { ownDir, refuseLink } from './paths.js';

/** A file as listed: what the journal keys its progress by, so nothing is resumed into another version of it. */
export interface ListedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs?: number;
  readonly etag?: string;
}

export interface StagingArea {
  readonly dir: string;
  readonly modelDir: string;
  /** Where a file fetched as ranged parts is assembled, outside the model dir until it is whole. */
  readonly partsDir: string;
  /** The start offsets of the parts of `f` completed by an earlier attempt at this version of it. */
  completedParts(f: ListedFile): ReadonlySet<number>;
  markPart(f: ListedFile, start: number): Promise<void>;
  /** Forgets the parts of `f` journalled so far (its parts file is being started anew). */
  resetParts(f: ListedFile): Promise<void>;
  /** A completed file from an earlier, interrupted attempt at this same version of it. */
  completed(f: ListedFile): Promise<FileRecord | null>;
  markDone(r: FileRecord): Promise<void>;
  /** Records that `f` is being written from its start (so its partial bytes can be resumed for this version only). */
  begin(f: ListedFile): Promise<void>;
  /** Whether a partial `f` on disk was begun for this same version of it. */
  begun(f: ListedFile): boolean;
  /** Lets go of the journal (after its last line is written); the area stays on disk. */
  close(): Promise<void>;
}

/**
 * The journal's appends: one handle for the whole fetch (O_APPEND, never
 * through a link), and the lines of tasks that finish together written in one
 * write: each append resolves once its line is in the file. An open and close
 * per line cost the main thread ~0.3 ms per file (issue 18's FTP profile).
 */
class Journal {
  private fh: Promise<FileHandle> | null = null;
  private queue: string[] = [];
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing: Promise<void> | null = null;

  constructor(private readonly file: string) {}

  append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push(line);
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.flush().finally(() => {
      this.writing = null;
      this.kick();
    });
  }

  private async flush(): Promise<void> {
    const buf = Buffer.from(this.queue.splice(0).join(''));
    const waiting = this.waiting.splice(0);
    try {
      this.fh ??= open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
      const fh = await this.fh;
      for (let off = 0; off < buf.length;) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      for (const w of waiting) w.resolve();
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
  }

  async close(): Promise<void> {
    while (this.writing) await this.writing;
    const fh = this.fh;
    this.fh = null;
    await fh?.then((h) => h.close()).catch(() => {});
  }
}

const keyOf = (f: ListedFile) => JSON.stringify([f.path, f.size, f.mtimeMs ?? null, f.etag ?? null]);
const recordKey = (r: FileRecord) =>
  keyOf({
    path: r.path,
    size: r.size,
    ...(r.remoteMtimeMs !== undefined ? { mtimeMs: r.remoteMtimeMs } : {}),
    ...(r.etag !== undefined ? { etag: r.etag } : {}),
  });

export function stagingDirFor(root: string, fingerprint: string): string {
  return path.join(root, `v-${createHash('sha1').update(fingerprint).digest('hex').slice(0, 16)}`);
}

export async function openStaging(root: string, fingerprint: string, fresh: boolean): Promise<StagingArea> {
  const dir = stagingDirFor(root, fingerprint);
  // Never through a link: emptying a staging root that links elsewhere would empty the link's target.
  await ownDir(root);
  for (const n of await readdir(root)) {
    if (path.join(root, n) !== dir) await rm(path.join(root, n), { recursive: true, force: true }); // rm unlinks a link, never follows it
  }
  if (fresh) await rm(dir, { recursive: true, force: true });
  const modelDir = path.join(dir, 'model');
  await ownDir(dir);
  await ownDir(modelDir);
  const journal = path.join(dir, 'done.jsonl');
  await refuseLink(journal);
  await refuseLink(path.join(dir, 'parts'));
  const done = new Map<string, FileRecord>();
  const parts = new Map<string, Set<number>>();
  const begun = new Set<string>();
  const text = await readFile(journal, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    try {
      const r = JSON.parse(line) as FileRecord & { part?: number; begun?: boolean };
      if (typeof r.path !== 'string' || typeof r.size !== 'number') continue;
      const key = recordKey(r);
      if (r.begun) begun.add(key);
      else if (r.part === -1) parts.delete(key);
      else if (typeof r.part === 'number') parts.set(key, (parts.get(key) ?? new Set()).add(r.part));
      else done.set(key, r);
    } catch {
      /* a torn last line from a crash: that file is simply not complete */
    }
  }
  const j = new Journal(journal);
  const line = (f: ListedFile, extra: object) =>
    JSON.stringify({
      path: f.path,
      size: f.size,
      ...(f.mtimeMs !== undefined ? { remoteMtimeMs: f.mtimeMs } : {}),
      ...(f.etag !== undefined ? { etag: f.etag } : {}),
      ...extra,
    }) + '\n';
  return {
    dir,
    modelDir,
    partsDir: path.join(dir, 'parts'),
    completedParts(f) {
      return parts.get(keyOf(f)) ?? new Set();
    },
    async markPart(f, start) {
      await j.append(line(f, { part: start }));
    },
    async resetParts(f) {
      parts.delete(keyOf(f));
      await j.append(line(f, { part: -1 }));
    },
    async completed(f) {
      const r = done.get(keyOf(f));
      if (!r) return null;
      const st = await lstat(path.join(modelDir, ...f.path.split('/'))).catch(() => null);
      return st?.isFile() && st.size === f.size ? r : null;
    },
    async markDone(r) {
      await j.append(JSON.stringify(r) + '\n');
    },
    async begin(f) {
      begun.add(keyOf(f));
      await j.append(line(f, { begun: true }));
    },
    begun(f) {
      return begun.has(keyOf(f));
    },
    close: () => j.close(),
  };
}
