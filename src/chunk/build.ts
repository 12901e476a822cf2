/**
 * One pass over a file's bytes gives everything publish needs: the md5 of the
 * whole file (the donefile's line) and, for a big file, its chunk index (the
 * cuts of the chunker and a SHA-256 per chunk). Fed buffer by buffer, in order.
 */
import { createHash, type Hash } from 'node:crypto';
import { Chunker, CHUNKER_ID, DEFAULT_CHUNKING, type ChunkParams } from './cdc.js';
import { HASH_BYTES, offsetsOf, type ChunkIndex } from './index-format.js';

export interface FileDigest {
  readonly size: number;
  readonly md5: string;
  /** Present when the file was chunked. */
  readonly index: ChunkIndex | null;
}

/** The chunk index of a stream of bytes (cuts and a SHA-256 per chunk), without the md5. */
export class ChunkIndexBuilder {
  private readonly lengths: number[] = [];
  private hashes: Buffer = Buffer.alloc(64 * HASH_BYTES);
  private hash: Hash = createHash('sha256');
  /** Bytes of the chunk in progress seen so far. */
  private cur = 0;

  constructor(readonly chunker: Chunker) {}

  update(buf: Buffer): void {
    let from = 0;
    for (;;) {
      const at = this.chunker.next(buf, from);
      if (at < 0) {
        this.hash.update(buf.subarray(from));
        this.cur += buf.length - from;
        return;
      }
      this.hash.update(buf.subarray(from, at));
      this.close(this.cur + at - from);
      from = at;
    }
  }

  private close(length: number): void {
    const n = this.lengths.length;
    if (this.hashes.length < (n + 1) * HASH_BYTES) {
      const grown = Buffer.alloc(this.hashes.length * 2);
      this.hashes.copy(grown);
      this.hashes = grown;
    }
    this.hash.digest().copy(this.hashes, n * HASH_BYTES);
    this.hash = createHash('sha256');
    this.lengths.push(length);
    this.cur = 0;
  }

  finish(size: number, md5: string): ChunkIndex {
    if (this.cur > 0) this.close(this.cur);
    const lengths = Uint32Array.from(this.lengths);
    const hashes = this.hashes.subarray(0, lengths.length * HASH_BYTES);
    return { params: this.chunker.params, chunker: CHUNKER_ID, size, md5, lengths, offsets: offsetsOf(lengths), hashes };
  }
}

/** md5 of everything fed, and a chunk index when `chunking` is given. */
export class FileHasher {
  private readonly md5 = createHash('md5');
  private size = 0;
  private readonly parts: ChunkIndexBuilder | null;

  constructor(chunking: ChunkParams | null = null) {
    this.parts = chunking ? new ChunkIndexBuilder(new Chunker(chunking)) : null;
  }

  update(buf: Buffer): void {
    this.md5.update(buf);
    this.size += buf.length;
    this.parts?.update(buf);
  }

  digest(): FileDigest {
    const md5 = this.md5.digest('hex');
    return { size: this.size, md5, index: this.parts ? this.parts.finish(this.size, md5) : null };
  }
}

/** Digest of an in-memory buffer (tests, the bench). */
export function digestBuffer(data: Buffer, chunking: ChunkParams | null = DEFAULT_CHUNKING): FileDigest {
  const h = new FileHasher(chunking);
  h.update(data);
  return h.digest();
}
