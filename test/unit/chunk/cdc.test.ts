import { describe, expect, it } from 'vitest';
import { checkParams, Chunker, chunkLengths, DEFAULT_CHUNKING } from '../../../src/chunk/cdc.js';
import { KiB, MiB, pieces, pseudoRandom } from '../../helpers/bytes.js';

const { min, avg, max } = DEFAULT_CHUNKING;

function streamed(data: Buffer, maxPiece: number): number[] {
  const c = new Chunker();
  const out: number[] = [];
  let cur = 0;
  for (const p of pieces(data, maxPiece)) {
    let from = 0;
    for (let at = c.next(p, from); at >= 0; at = c.next(p, from)) {
      out.push(cur + at - from);
      cur = 0;
      from = at;
    }
    cur += p.length - from;
  }
  if (cur > 0) out.push(cur);
  return out;
}

describe('chunker', () => {
  const data = pseudoRandom(16 * MiB, 1);
  const lengths = chunkLengths(data);

  it('cuts within [min, max] (the last chunk may be shorter), covering the data exactly', () => {
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const l of lengths.slice(0, -1)) {
      expect(l).toBeGreaterThanOrEqual(min);
      expect(l).toBeLessThanOrEqual(max);
    }
  });

  it('averages near the target size on random data', () => {
    const mean = data.length / lengths.length;
    expect(mean).toBeGreaterThan(avg * 0.75);
    expect(mean).toBeLessThan(avg * 1.5);
  });

  it.each([1, 100, 4096, 65_537, 1 * MiB])('cuts the same wherever the reads split the stream (pieces ≤ %i bytes)', (p) => {
    const part = p < 100 ? data.subarray(0, 1 * MiB) : data; // byte-sized pieces are slow to make, not to cut
    expect(streamed(part, p)).toEqual(part === data ? lengths : chunkLengths(part));
  });

  it('an insertion moves no cut after it: the chunks past it are the old ones', () => {
    const at = 5 * MiB + 12_345;
    const edited = Buffer.concat([data.subarray(0, at), pseudoRandom(1000, 9), data.subarray(at)]);
    const ends = (ls: number[]) => ls.reduce<number[]>((acc, l) => [...acc, (acc.at(-1) ?? 0) + l], []);
    const oldEnds = new Set(ends(lengths).filter((e) => e > at + 2 * max));
    const newEnds = ends(chunkLengths(edited))
      .filter((e) => e > at + 1000 + 2 * max)
      .map((e) => e - 1000);
    expect(newEnds.length).toBeGreaterThan(100);
    expect(newEnds.every((e) => oldEnds.has(e))).toBe(true);
  });

  it('forces a cut at max on data without any cut point (all zeros)', () => {
    const ls = chunkLengths(Buffer.alloc(3 * max + 10));
    expect(ls).toEqual([max, max, max, 10]);
  });

  it('small inputs are one chunk; nothing is no chunk', () => {
    expect(chunkLengths(pseudoRandom(min - 1, 3))).toEqual([min - 1]);
    expect(chunkLengths(Buffer.alloc(0))).toEqual([]);
  });

  it.each([
    [{ min: 16, avg: 64, max: 256 }, /below 64/],
    [{ min: 16 * KiB, avg: 60 * KiB, max: 256 * KiB }, /power of two/],
    [{ min: 128 * KiB, avg: 64 * KiB, max: 256 * KiB }, /min ≤ avg ≤ max/],
    [{ min: 16 * KiB, avg: 64 * KiB, max: 64 * MiB }, /above/],
  ])('refuses params %o', (p, re) => {
    expect(() => checkParams(p)).toThrow(re);
  });
});
