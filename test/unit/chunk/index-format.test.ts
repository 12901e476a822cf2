import { describe, expect, it } from 'vitest';
import { digestBuffer, FileHasher } from '../../../src/chunk/build.js';
import { decodeIndex, encodeIndex, ENTRY_BYTES, HEADER_BYTES } from '../../../src/chunk/index-format.js';
import { IntegrityError } from '../../../src/errors.js';
import { md5 } from '../../helpers/producer.js';
import { MiB, pieces, pseudoRandom } from '../../helpers/bytes.js';

const data = pseudoRandom(4 * MiB + 123, 2);
const dig = digestBuffer(data);
const ix = dig.index!;
const enc = encodeIndex(ix);

describe('chunk index format 1', () => {
  it('round-trips, with the md5 and size of the file', () => {
    const back = decodeIndex(enc, 'x', { size: data.length, md5: md5(data) });
    expect(back.size).toBe(data.length);
    expect(back.md5).toBe(md5(data));
    expect([...back.lengths]).toEqual([...ix.lengths]);
    expect(back.hashes.equals(ix.hashes)).toBe(true);
    expect(back.offsets[1]).toBe(ix.lengths[0]);
  });

  it('is a small fraction of the file (≤ 0.5 %)', () => {
    expect(enc.length / data.length).toBeLessThan(0.005);
    expect(enc.length).toBe(HEADER_BYTES + ENTRY_BYTES * ix.lengths.length);
  });

  it('one pass gives the same md5 and index whatever the read sizes', () => {
    const h = new FileHasher(ix.params);
    for (const p of pieces(data, 300_000)) h.update(p);
    const d = h.digest();
    expect(d.md5).toBe(dig.md5);
    expect(encodeIndex(d.index!).equals(enc)).toBe(true);
  });

  it('a file below the threshold gets an md5 and no index', () => {
    const d = digestBuffer(Buffer.from('tiny'), null);
    expect(d).toEqual({ size: 4, md5: md5('tiny'), index: null });
  });

  it('an empty file has an index of no chunks', () => {
    const d = digestBuffer(Buffer.alloc(0));
    expect(d.index!.lengths.length).toBe(0);
    expect(decodeIndex(encodeIndex(d.index!), 'empty').size).toBe(0);
  });

  const mutate = (f: (b: Buffer) => void | Buffer): Buffer => {
    const b = Buffer.from(enc);
    return f(b) ?? b;
  };
  it.each<[string, () => Buffer, RegExp, { size: number; md5?: string }?]>([
    ['truncated header', () => enc.subarray(0, 20), /shorter than its 48-byte header/],
    ['bad magic', () => mutate((b) => void b.write('ABCD', 0, 'latin1')), /bad magic/],
    ['another format version', () => mutate((b) => void b.writeUInt8(2, 4)), /format version 2; this build reads version 1/],
    ['an unknown hash', () => mutate((b) => void b.writeUInt8(9, 5)), /unknown hash id 9/],
    ['a reserved byte set', () => mutate((b) => void b.writeUInt8(1, 7)), /reserved/],
    ['bad params', () => mutate((b) => void b.writeUInt32LE(30000, 12)), /power of two/],
    ['a missing entry', () => enc.subarray(0, enc.length - ENTRY_BYTES), /chunks take/],
    ['a zero-length chunk', () => mutate((b) => void b.writeUInt32LE(0, HEADER_BYTES)), /chunk 0 has length 0/],
    ['a chunk above max', () => mutate((b) => void b.writeUInt32LE(10 * MiB, HEADER_BYTES)), /chunk 0 has length/],
    ['a short chunk not at the end', () => mutate((b) => void b.writeUInt32LE(100, HEADER_BYTES)), /below the minimum/],
    ['lengths not adding up', () => mutate((b) => void b.writeBigUInt64LE(BigInt(data.length + 1), 20)), /add up to/],
    ['another file size than the manifest', () => enc, /the manifest says 5/, { size: 5 }],
    ['another md5 than the manifest', () => enc, /is for md5 .* the manifest says 0{32}/, { size: data.length, md5: '0'.repeat(32) }],
  ])('refuses %s', (_name, make, re, expectEntry) => {
    const f = () => decodeIndex(make(), 'm/a.bin', expectEntry);
    expect(f).toThrow(IntegrityError);
    expect(f).toThrow(re);
    expect(f).toThrow(/^chunk index m\/a\.bin: /);
  });
});
