/**
 * planDelta: which bytes of the new file the served copy already has (local
 * reads) and which must be fetched (ranged reads), from the two chunk indexes.
 * Pure: no I/O. A new chunk is reused when the old file has a chunk of the same
 * length and SHA-256 anywhere (a moved block is found too); the old chunk right
 * after the previous match is tried first, so unchanged runs stay one read.
 *
 * Coalescing rule: consecutive fetched chunks are one range; a run of reused
 * chunks of at most `gapBytes` (default 256 KiB: about 4 average chunks, which
 * on a 1 Gbit/s link is about what one more request's round trip costs, and
 * on FTP a ranged read costs a new data connection) between two fetched ranges
 * is fetched as well, so the two become one request. Nothing else is merged:
 * the extra bytes are bounded by gapBytes per request saved.
 */
import { chunkHash, HASH_BYTES, type ChunkIndex } from './index-format.js';

export interface DeltaOp {
  readonly kind: 'local' | 'fetch';
  /** Offset in the new file. */
  readonly start: number;
  readonly length: number;
  /** The op covers new chunks [first, first + count). */
  readonly first: number;
  readonly count: number;
  /** For 'local': offset of the same bytes in the old (served) file. */
  readonly from?: number;
}

export interface DeltaPlan {
  /** In new-file order; together they cover the new file exactly. */
  readonly ops: readonly DeltaOp[];
  readonly fetchedBytes: number;
  readonly reusedBytes: number;
  /** Fetch ops = ranged requests. */
  readonly requests: number;
}

export interface DeltaOptions {
  /** Reused runs this short between two fetched ranges are fetched with them. */
  readonly gapBytes?: number;
}

export const DEFAULT_GAP_BYTES = 256 * 1024;

/** Old chunks by the first 6 bytes of their hash, with a chain for the rare equal keys. */
class OldChunks {
  private readonly head = new Map<number, number>();
  private readonly next: Int32Array;

  constructor(private readonly ix: ChunkIndex) {
    const n = ix.lengths.length;
    this.next = new Int32Array(n).fill(-1);
    for (let j = n - 1; j >= 0; j--) {
      const k = ix.hashes.readUIntLE(j * HASH_BYTES, 6);
      const h = this.head.get(k);
      if (h !== undefined) this.next[j] = h;
      this.head.set(k, j);
    }
  }

  same(j: number, hash: Buffer, length: number): boolean {
    return j >= 0 && j < this.ix.lengths.length && this.ix.lengths[j] === length && chunkHash(this.ix, j).equals(hash);
  }

  /** An old chunk equal to (hash, length): `hint` first, else the first in the file; -1 if none. */
  find(hash: Buffer, length: number, hint: number): number {
    if (this.same(hint, hash, length)) return hint;
    for (let j = this.head.get(hash.readUIntLE(0, 6)) ?? -1; j >= 0; j = this.next[j]!) {
      if (this.same(j, hash, length)) return j;
    }
    return -1;
  }
}

interface MutableOp {
  kind: 'local' | 'fetch';
  start: number;
  length: number;
  first: number;
  count: number;
  from?: number;
}

/** New chunks matched to old ones, merged into runs: contiguous in both files for 'local'. */
function runs(oldIx: ChunkIndex, newIx: ChunkIndex): MutableOp[] {
  const old = new OldChunks(oldIx);
  const out: MutableOp[] = [];
  let prev = -2;
  for (let i = 0; i < newIx.lengths.length; i++) {
    const length = newIx.lengths[i]!;
    const start = newIx.offsets[i]!;
    const j = old.find(chunkHash(newIx, i), length, prev + 1);
    const last = out.at(-1);
    if (j < 0) {
      if (last?.kind === 'fetch') {
        last.length += length;
        last.count++;
      } else out.push({ kind: 'fetch', start, length, first: i, count: 1 });
    } else if (last?.kind === 'local' && j === prev + 1) {
      last.length += length;
      last.count++;
    } else {
      out.push({ kind: 'local', start, length, first: i, count: 1, from: oldIx.offsets[j]! });
    }
    prev = j < 0 ? -2 : j;
  }
  return out;
}

/** Folds short reused runs between fetched ranges into one fetched range. */
function coalesce(ops: MutableOp[], gapBytes: number): MutableOp[] {
  const out: MutableOp[] = [];
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    const last = out.at(-1);
    const gap = op.kind === 'local' && last?.kind === 'fetch' && ops[k + 1]?.kind === 'fetch' && op.length <= gapBytes;
    if (last?.kind === 'fetch' && (op.kind === 'fetch' || gap)) {
      last.length += op.length;
      last.count += op.count;
      continue;
    }
    // Two local runs meet only when a gap in between was folded away, never here: keep them apart.
    out.push(op.kind === 'fetch' ? { kind: 'fetch', start: op.start, length: op.length, first: op.first, count: op.count } : { ...op });
  }
  return out;
}

export function planDelta(oldIx: ChunkIndex, newIx: ChunkIndex, o: DeltaOptions = {}): DeltaPlan {
  const ops = coalesce(runs(oldIx, newIx), o.gapBytes ?? DEFAULT_GAP_BYTES);
  let fetchedBytes = 0;
  let reusedBytes = 0;
  for (const op of ops) {
    if (op.kind === 'fetch') fetchedBytes += op.length;
    else reusedBytes += op.length;
  }
  return { ops, fetchedBytes, reusedBytes, requests: ops.filter((x) => x.kind === 'fetch').length };
}

/**
 * The delta for one file, or null for a whole-file pull: either side has no
 * index (a file below the threshold, a version published without indexes, a
 * served copy whose index is unknown), or nothing at all would be reused.
 */
export function planFile(oldIx: ChunkIndex | null, newIx: ChunkIndex | null, o: DeltaOptions = {}): DeltaPlan | null {
  if (!oldIx || !newIx) return null;
  const p = planDelta(oldIx, newIx, o);
  return p.reusedBytes === 0 ? null : p;
}
