/**
 * The chunk index of one file, format 1: binary, little-endian, published by
 * `publish` next to the version's manifest for every file above the threshold.
 *
 *   offset size  field
 *   0      4     magic "MMCX"
 *   4      1     format version = 1
 *   5      1     hash id: 1 = SHA-256 (32 bytes per chunk)
 *   6      1     chunker id: 1 = gear/FastCDC of src/chunk/cdc.ts
 *   7      1     reserved, 0
 *   8      4     min chunk size (u32)
 *   12     4     average chunk size (u32)
 *   16     4     max chunk size (u32)
 *   20     8     file size (u64, below 2^53)
 *   28     16    md5 of the whole file
 *   44     4     chunk count N (u32)
 *   48     36·N  per chunk, in file order: length (u32) + SHA-256 (32 bytes)
 *
 * A chunk's offset is the sum of the lengths before it. 36 bytes per chunk of
 * ~64 KiB is 0.055 % of the file; the `min` bound caps it at 0.22 % whatever
 * the content. A reader refuses anything else (another version, a hash it does
 * not know, lengths that do not add up to the size) with an IntegrityError
 * that says what is wrong: a bad index costs a whole-file pull, never bad bytes.
 */
import { IntegrityError } from '../errors.js';
import { checkParams, MAX_CHUNK_CEILING, type ChunkParams } from './cdc.js';

export const INDEX_MAGIC = 'MMCX';
export const INDEX_FORMAT = 1;
export const HASH_SHA256 = 1;
export const HASH_BYTES = 32;
export const HEADER_BYTES = 48;
export const ENTRY_BYTES = 4 + HASH_BYTES;

export interface ChunkIndex {
  readonly params: ChunkParams;
  readonly chunker: number;
  readonly size: number;
  /** md5 of the whole file, hex. */
  readonly md5: string;
  /** Chunk lengths in file order. */
  readonly lengths: Uint32Array;
  /** Chunk offsets (derived): offsets[i] = sum of lengths[0..i). */
  readonly offsets: Float64Array;
  /** SHA-256 of each chunk, 32 bytes each, in file order. */
  readonly hashes: Buffer;
}

/** Bytes of the encoded index of `chunks` chunks. */
export const indexBytes = (chunks: number) => HEADER_BYTES + ENTRY_BYTES * chunks;

export function offsetsOf(lengths: Uint32Array): Float64Array {
  const out = new Float64Array(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    out[i] = at;
    at += lengths[i]!;
  }
  return out;
}

/** The i-th chunk's hash (a view, not a copy). */
export const chunkHash = (ix: ChunkIndex, i: number): Buffer => ix.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);

export function encodeIndex(ix: ChunkIndex): Buffer {
  const n = ix.lengths.length;
  const out = Buffer.alloc(indexBytes(n));
  out.write(INDEX_MAGIC, 0, 'latin1');
  out.writeUInt8(INDEX_FORMAT, 4);
  out.writeUInt8(HASH_SHA256, 5);
  out.writeUInt8(ix.chunker, 6);
  out.writeUInt32LE(ix.params.min, 8);
  out.writeUInt32LE(ix.params.avg, 12);
  out.writeUInt32LE(ix.params.max, 16);
  out.writeBigUInt64LE(BigInt(ix.size), 20);
  out.write(ix.md5, 28, 16, 'hex');
  out.writeUInt32LE(n, 44);
  for (let i = 0; i < n; i++) {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    out.writeUInt32LE(ix.lengths[i]!, at);
    ix.hashes.copy(out, at + 4, i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }
  return out;
}

function bad(what: string, why: string): never {
  throw new IntegrityError(`chunk index ${what}: ${why}`);
}

function readHeader(buf: Buffer, what: string): { params: ChunkParams; chunker: number; size: number; md5: string; n: number } {
  if (buf.length < HEADER_BYTES) bad(what, `${buf.length} bytes, shorter than its ${HEADER_BYTES}-byte header`);
  if (buf.toString('latin1', 0, 4) !== INDEX_MAGIC) bad(what, 'not a model-monitor chunk index (bad magic)');
  const version = buf.readUInt8(4);
  if (version !== INDEX_FORMAT) bad(what, `format version ${version}; this build reads version ${INDEX_FORMAT}`);
  const hash = buf.readUInt8(5);
  if (hash !== HASH_SHA256) bad(what, `unknown hash id ${hash} (1 = SHA-256)`);
  if (buf.readUInt8(7) !== 0) bad(what, 'reserved header byte is not 0');
  const params = { min: buf.readUInt32LE(8), avg: buf.readUInt32LE(12), max: buf.readUInt32LE(16) };
  try {
    checkParams(params);
  } catch (err) {
    bad(what, (err as Error).message);
  }
  const size = buf.readBigUInt64LE(20);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) bad(what, `file size ${size} is too large`);
  const n = buf.readUInt32LE(44);
  if (buf.length !== indexBytes(n)) bad(what, `${buf.length} bytes, but ${n} chunks take ${indexBytes(n)}`);
  return { params, chunker: buf.readUInt8(6), size: Number(size), md5: buf.toString('hex', 28, 44), n };
}

/**
 * Parses and checks an index: header, lengths within [1, max] and ≥ min but for
 * the last, lengths adding up to the size; with `expect`, the size and md5 the
 * manifest gives for the file. Throws IntegrityError naming `what`.
 */
export function decodeIndex(buf: Buffer, what: string, expect?: { size: number; md5?: string }): ChunkIndex {
  const { params, chunker, size, md5, n } = readHeader(buf, what);
  const lengths = new Uint32Array(n);
  const hashes = Buffer.alloc(n * HASH_BYTES);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    const len = buf.readUInt32LE(at);
    if (len === 0 || len > params.max || len > MAX_CHUNK_CEILING) bad(what, `chunk ${i} has length ${len} (max ${params.max})`);
    if (len < params.min && i !== n - 1) bad(what, `chunk ${i} has length ${len}, below the minimum ${params.min}, and is not the last`);
    lengths[i] = len;
    total += len;
    buf.copy(hashes, i * HASH_BYTES, at + 4, at + ENTRY_BYTES);
  }
  if (total !== size) bad(what, `chunk lengths add up to ${total}, the header says ${size}`);
  if (expect && expect.size !== size) bad(what, `indexes ${size} bytes, the manifest says ${expect.size}`);
  if (expect?.md5 && expect.md5.toLowerCase() !== md5) bad(what, `is for md5 ${md5}, the manifest says ${expect.md5}`);
  return { params, chunker, size, md5, lengths, offsets: offsetsOf(lengths), hashes };
}
