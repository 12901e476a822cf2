/** fetch's pure decisions (parts.ts): part layout, whether a file is parted, where a transfer resumes. */
import { describe, expect, it } from 'vitest';
import { partLayout, partSizeFor, resumeFrom, retryFrom, type PartChoice, type ResumeChoice } from '../../src/parts.js';

const M = 1024 * 1024;

describe('partLayout', () => {
  const cases: [string, number, number, [number, number][]][] = [
    [
      'an exact multiple: the last part ends at the end of the file',
      4 * M,
      2 * M,
      [
        [0, 2 * M],
        [2 * M, 2 * M],
      ],
    ],
    [
      'a short last part',
      5 * M,
      2 * M,
      [
        [0, 2 * M],
        [2 * M, 2 * M],
        [4 * M, M],
      ],
    ],
    [
      'one byte over a boundary',
      2 * M + 1,
      2 * M,
      [
        [0, 2 * M],
        [2 * M, 1],
      ],
    ],
    ['smaller than one part', 10, 2 * M, [[0, 10]]],
    ['an empty file has no parts', 0, 2 * M, []],
  ];
  it.each(cases)('%s', (_what, size, partSize, want) => {
    const parts = partLayout(size, partSize);
    expect(parts.map((p) => [p.start, p.length])).toEqual(want);
    // every byte once, in order
    expect(parts.reduce((n, p) => (expect(p.start).toBe(n), n + p.length), 0)).toBe(size);
  });
  it('refuses a part size of 0', () => expect(() => partLayout(10, 0)).toThrow());
});

describe('partSizeFor', () => {
  const base: PartChoice = { partSize: 2 * M, given: true, partsByDefault: false, concurrency: 4, ranges: true, local: false, size: 10 * M, reused: false };
  const cases: [string, Partial<PartChoice>, number][] = [
    ['a big file over a ranged source', {}, 2 * M],
    ['a file of exactly the part size is one stream', { size: 2 * M }, 0],
    ['--part-size 0', { partSize: 0 }, 0],
    ['--concurrency 1', { concurrency: 1 }, 0],
    ['a source without ranges', { ranges: false }, 0],
    ['a local file without md5 (one copyFile)', { local: true }, 0],
    ['a file reused from the served model', { reused: true }, 0],
    ['the default part size on a LAN source (HTTP, WebHDFS, FTP): one stream per file', { given: false }, 0],
    ['the default part size on a per-stream-throttled store (S3: partsByDefault)', { given: false, partsByDefault: true }, 2 * M],
  ];
  it.each(cases)('%s', (_what, c, want) => expect(partSizeFor({ ...base, ...c })).toBe(want));
});

describe('resumeFrom (a partial file left by an interrupted sync)', () => {
  const base: ResumeChoice = { ranges: true, onDisk: 700, size: 1000, begunForThisVersion: true };
  const cases: [string, Partial<ResumeChoice>, number][] = [
    ['its bytes on disk, begun for this version', {}, 700],
    ['nothing on disk', { onDisk: 0 }, 0],
    ['begun for another version of the file', { begunForThisVersion: false }, 0],
    ['more on disk than the file has', { onDisk: 1001 }, 0],
    ['complete on disk (the transfer asks for nothing more)', { onDisk: 1000 }, 1000],
    ['a source that cannot start mid-file', { ranges: false }, 0],
    ['an empty file', { onDisk: 0, size: 0 }, 0],
  ];
  it.each(cases)('%s', (_what, c, want) => expect(resumeFrom({ ...base, ...c })).toBe(want));
});

describe('retryFrom (the next attempt after a dropped stream)', () => {
  it.each([
    [300_000, true, 300_000],
    [0, true, 0],
    [300_000, false, 0],
  ])('written %d, ranges %s → %d', (written, ranges, want) => expect(retryFrom(written, ranges)).toBe(want));
});
