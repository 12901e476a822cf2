/**
 * Content-defined chunking, FastCDC-style (Xia et al., USENIX ATC '16): a gear
 * rolling hash over the bytes, a cut wherever its top bits are all zero. A cut
 * depends only on the last 32 bytes before it, so an insertion moves the cuts
 * next to it and none after: the chunks past the edit are the old ones again.
 *
 * - cut-point skipping: the first `min` bytes of a chunk are not hashed at all;
 * - normalized chunking (level 2): below `avg` the mask has two more bits
 *   (cuts are 4 × rarer), above it two fewer (4 × likelier), which packs chunk
 *   sizes around `avg`; `max` forces a cut.
 *
 * Ours in TypeScript: bench/chunk.ts measured it against the WebAssembly build
 * of fastcdc-rs (@dstanesc/wasm-chunking-fastcdc-node) on this machine, and the
 * numbers are in docs/performance.md. The gear table and the masks are part of
 * index format 1 (chunker id 1): changing them changes every cut, which costs
 * the next delta its reuse but never its correctness (chunks match by hash).
 */
import { createHash } from 'node:crypto';

export interface ChunkParams {
  /** No cut before this many bytes (except at the end of the file). */
  readonly min: number;
  /** The sizes cluster around this; a power of two. */
  readonly avg: number;
  /** A cut here at the latest. */
  readonly max: number;
}

export const DEFAULT_CHUNKING: ChunkParams = Object.freeze({ min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 });

/** The chunker this file implements, as written in an index header. */
export const CHUNKER_ID = 1;

/** Sane bounds for params read from an index or a flag. */
export const MIN_CHUNK_FLOOR = 64;
export const MAX_CHUNK_CEILING = 16 * 1024 * 1024;

/** 256 pseudo-random 32-bit values from sha256("model-monitor gear <i>"): fixed forever for chunker 1. */
function gearTable(): Int32Array {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`model-monitor gear ${i}`).digest().readInt32LE(0);
  return t;
}

const GEAR: Readonly<Int32Array> = gearTable();

/** The top `bits` bits of a 32-bit word: the oldest bytes of the 32-byte window weigh in. */
function topBits(bits: number): number {
  return bits >= 32 ? -1 : ~((1 << (32 - bits)) - 1) | 0;
}

/** Throws a plain Error naming the bad parameter (callers turn it into a ConfigError or an IntegrityError). */
export function checkParams(p: ChunkParams): void {
  const { min, avg, max } = p;
  if (![min, avg, max].every((n) => Number.isInteger(n))) throw new Error('chunk sizes must be whole numbers');
  if (min < MIN_CHUNK_FLOOR) throw new Error(`min chunk ${min} is below ${MIN_CHUNK_FLOOR}`);
  if (max > MAX_CHUNK_CEILING) throw new Error(`max chunk ${max} is above ${MAX_CHUNK_CEILING}`);
  if (!(min <= avg && avg <= max)) throw new Error(`chunk sizes must satisfy min ≤ avg ≤ max (${min}, ${avg}, ${max})`);
  if ((avg & (avg - 1)) !== 0) throw new Error(`average chunk ${avg} is not a power of two`);
}

/**
 * A streaming chunker: feed it the file's bytes in order, buffer by buffer, and
 * it says where each chunk ends. State (the hash, the bytes since the last cut)
 * carries across buffers, so the cuts do not depend on how the file was read.
 */
export class Chunker {
  private h = 0;
  /** Bytes since the last cut. */
  private len = 0;
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(readonly params: ChunkParams = DEFAULT_CHUNKING) {
    checkParams(params);
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBits(bits + 2);
    this.maskL = topBits(Math.max(1, bits - 2));
  }

  /** Bytes of the chunk in progress (the last chunk's length at the end of the file). */
  get pending(): number {
    return this.len;
  }

  /**
   * Scans `buf` from `from`; returns the index just past the next cut (the chunk
   * ends there and the next one starts), or -1 when `buf` ends first.
   */
  next(buf: Uint8Array, from: number): number {
    const { min, avg, max } = this.params;
    const n = buf.length;
    let i = from;
    let len = this.len;
    if (len < min) {
      const skip = Math.min(min - len, n - i);
      i += skip;
      len += skip;
      if (len < min) return this.park(0, len);
    }
    let h = this.h;
    const gear = GEAR;
    if (len < avg) {
      const stop = Math.min(n, i + (avg - len));
      const mask = this.maskS;
      const start = i;
      for (; i < stop; i++) {
        h = ((h << 1) + gear[buf[i]!]!) | 0;
        if ((h & mask) === 0) return this.cut(i + 1);
      }
      len += i - start;
      if (len < avg) return this.park(h, len);
    }
    const stop = Math.min(n, i + (max - len));
    const mask = this.maskL;
    const start = i;
    for (; i < stop; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      if ((h & mask) === 0) return this.cut(i + 1);
    }
    len += i - start;
    if (len >= max) return this.cut(i);
    return this.park(h, len);
  }

  private park(h: number, len: number): number {
    this.h = h;
    this.len = len;
    return -1;
  }

  private cut(at: number): number {
    this.h = 0;
    this.len = 0;
    return at;
  }
}

/** Chunk lengths of a whole in-memory buffer (tests, the bench). */
export function chunkLengths(data: Uint8Array, params: ChunkParams = DEFAULT_CHUNKING): number[] {
  const c = new Chunker(params);
  const out: number[] = [];
  let last = 0;
  for (let at = c.next(data, 0); at >= 0; at = c.next(data, at)) {
    out.push(at - last);
    last = at;
  }
  if (c.pending > 0) out.push(c.pending);
  return out;
}
