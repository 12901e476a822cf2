/**
 * md5s of files on disk: of a prefix (a resume point), and of a file fetched
 * as parallel ranged parts, fed in file order as the parts land. Reads go
 * through one reused buffer: a read stream would allocate a fresh buffer per
 * read, hundreds of MiB of garbage for the GC when a big parted file is hashed
 * from the page cache.
 */
import type { Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { TransientError } from './errors.js';
import { md5Hash } from './meter.js';
import type { Part } from './parts.js';

/** Feeds bytes [start, end) of `file` to `hash`. */
export async function hashRange(hash: Hash, file: string, start: number, end: number): Promise<void> {
  if (end <= start) return;
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, end - start));
  try {
    for (let pos = start; pos < end;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) throw new TransientError(`${file}: ended at ${pos} of ${end} bytes while hashing`);
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** An md5 fed with the first `size` bytes of `file` (a resume point). */
export async function hashPrefix(file: string, size: number): Promise<Hash> {
  const hash = md5Hash();
  await hashRange(hash, file, 0, size);
  return hash;
}

/**
 * The md5 of a file whose parts land in any order: parallel parts cannot feed
 * one md5 in order, so each part is hashed (read back from the page cache) as
 * soon as every part before it has landed, while later parts still stream,
 * not all at the end. landed() never waits; digest() waits for the last reads.
 */
export class OrderedMd5 {
  private readonly hash = md5Hash();
  private readonly landedAt = new Set<number>();
  /** parts[0..next) are in the md5. */
  private next = 0;
  private hashing: Promise<void> = Promise.resolve();
  private failed: unknown = null;

  constructor(
    private readonly file: string,
    private readonly parts: readonly Part[],
  ) {}

  /** The part starting at `start` is on disk. */
  landed(start: number): void {
    this.landedAt.add(start);
    this.hashing = this.hashing.then(() => this.advance()).catch((err: unknown) => void (this.failed ??= err));
  }

  /** The md5 of the whole file, once every part has landed; the first read error, if one failed. */
  async digest(): Promise<string> {
    await this.hashing;
    if (this.failed) throw this.failed;
    if (this.next < this.parts.length) throw new Error(`${this.file}: md5 asked before part ${this.next} landed`);
    return this.hash.digest('hex');
  }

  private async advance(): Promise<void> {
    for (; this.next < this.parts.length && this.landedAt.has(this.parts[this.next]!.start); this.next++) {
      const p = this.parts[this.next]!;
      await hashRange(this.hash, this.file, p.start, p.start + p.length);
    }
  }
}
