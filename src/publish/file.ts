/** file://: writes with fs, renames with rename(2) (atomic, replaces). */
import { constants } from 'node:fs';
import { mkdir, open, rename, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { abortReason, mapLocalWriteError, RemoteError } from '../errors.js';
import { joinRemote, safeRelative } from '../paths.js';
import type { FileOptions } from '../sources/file.js';
import type { IoOptions } from '../sources/types.js';
import type { PutOptions, Writer, WriterFactory } from './types.js';

export const fileWriter = {
  kind: 'file',
  create(opts: FileOptions): Writer {
    return new FileWriter(opts.root);
  },
} satisfies WriterFactory<FileOptions>;

const quiet = (codes: string[]) => (err: unknown) => {
  if (!codes.includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
};

class FileWriter implements Writer {
  readonly kind = 'file';
  readonly features = { atomicReplace: true, atomicPut: false } as const;
  readonly displayUrl: string;

  constructor(private readonly root: string) {
    this.displayUrl = `file://${root}`;
  }

  private local(p: string): string {
    return path.join(this.root, ...safeRelative(joinRemote(p).replace(/^\//, '')).split('/'));
  }

  async put(p: string, body: Readable, o: PutOptions): Promise<void> {
    const file = this.local(p);
    let created = false;
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      // A new name only, never through a symlink: O_EXCL refuses an existing file or link.
      const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      created = true;
      await pipeline(body, fh.createWriteStream({ highWaterMark: 1024 * 1024 }), { signal: o.signal });
    } catch (err) {
      // kill -9 here instead leaves the partial file: garbage collection of a later publish removes it.
      if (created) await unlink(file).catch(() => {});
      if (o.signal.aborted) throw abortReason(o.signal);
      throw this.fail(`write ${p}`, err);
    }
  }

  async rename(from: string, to: string, o: IoOptions): Promise<void> {
    o.signal.throwIfAborted();
    try {
      await mkdir(path.dirname(this.local(to)), { recursive: true, mode: 0o755 });
      await rename(this.local(from), this.local(to));
    } catch (err) {
      throw this.fail(`rename ${from} to ${to}`, err);
    }
  }

  async delete(p: string, o: IoOptions): Promise<void> {
    o.signal.throwIfAborted();
    await unlink(this.local(p))
      .catch(quiet(['ENOENT']))
      .catch((err: unknown) => Promise.reject(this.fail(`delete ${p}`, err)));
  }

  async removeDir(p: string, o: IoOptions): Promise<void> {
    o.signal.throwIfAborted();
    await rmdir(this.local(p)).catch(quiet(['ENOENT', 'ENOTEMPTY', 'EEXIST']));
  }

  private fail(what: string, err: unknown): unknown {
    const mapped = mapLocalWriteError(err, `${this.displayUrl}: ${what}`);
    if (mapped !== err) return mapped;
    return new RemoteError(`${this.displayUrl}: cannot ${what}: ${(err as Error).message}`, { cause: err });
  }

  async close(): Promise<void> {}
}
