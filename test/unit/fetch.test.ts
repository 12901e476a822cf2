/**
 * fetch against the in-memory Source: whole files, an empty file, parts with
 * a boundary at the end of the file, the md5 of a parted file, and the resume
 * points the e2e tests found (a dropped stream goes on from its bytes on
 * disk, inside its part; an interrupted sync resumes only the same version).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchModel, type FetchOptions } from '../../src/fetch.js';
import { silentLogger } from '../../src/log.js';
import type { Aspired } from '../../src/model.js';
import { plan, type FetchPlan } from '../../src/plan.js';
import { MemorySource } from '../helpers/memory-source.js';

const M = 1024 * 1024;
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const ctx = () => ({ signal: AbortSignal.timeout(30_000), log: silentLogger() });

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-fetch-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

function options(o: Partial<FetchOptions> = {}): FetchOptions {
  return {
    stagingRoot: path.join(dir, 'staging'),
    concurrency: 4,
    partSize: 0,
    partSizeGiven: true,
    bwlimit: 0,
    wire: true,
    timeoutMs: 10_000,
    minBytesPerSec: 0,
    retries: 2,
    md5: true,
    servedDir: null,
    unpackedFilename: null,
    maxUnpackRatio: 256,
    timestampFile: null,
    ...o,
  };
}

const aspired = (fingerprint = 'fp-1'): Aspired => ({ version: 'v1', fingerprint, remoteModel: 'model' });

async function planned(src: MemorySource, fingerprint?: string): Promise<FetchPlan> {
  return plan(
    src,
    aspired(fingerprint),
    null,
    { manifestName: null, verify: 'size', donefile: 'donefile', incremental: false, timeoutMs: 10_000, retries: 0, archive: false },
    ctx(),
  );
}

async function fetched(src: MemorySource, o: Partial<FetchOptions> = {}, fingerprint?: string) {
  const p = await planned(src, fingerprint);
  const staged = await fetchModel(src, p, options(o), ctx());
  const bytes = async (rel: string) => readFile(path.join(staged.dir, rel));
  return { staged, bytes };
}

describe('whole files', () => {
  it('every file, an empty one included, with its md5', async () => {
    const src = new MemorySource();
    const a = randomBytes(300_000);
    src.put('model/a.bin', a);
    src.put('model/empty', '');
    src.put('model/sub/c.txt', 'cc');
    const { staged, bytes } = await fetched(src);
    const byPath = new Map(staged.files.map((f) => [f.path, f]));
    expect(byPath.get('a.bin')).toMatchObject({ size: a.length, md5: md5(a) });
    expect(byPath.get('empty')).toMatchObject({ size: 0, md5: md5('') });
    expect(byPath.get('sub/c.txt')).toMatchObject({ size: 2, md5: md5('cc') });
    expect((await bytes('empty')).length).toBe(0);
    // every read vouched for its version (ETag + mtime): no second listing is needed
    expect([...staged.confirmed!].sort()).toEqual(['a.bin', 'empty', 'sub/c.txt']);
  });

  it('a stream dropped mid-file goes on from the bytes on disk, and the md5 is rebuilt from them', async () => {
    const src = new MemorySource();
    const data = randomBytes(2 * M);
    src.put('model/big.bin', data);
    src.dropNext('model/big.bin', 700_000);
    const { staged, bytes } = await fetched(src);
    const opens = src.opens.filter((o) => o.path === 'model/big.bin');
    expect(opens).toHaveLength(2);
    // FileSink counts only bytes on disk: the resume point is a flushed batch, never past what arrived
    expect(opens[1]!.start).toBeGreaterThan(0);
    expect(opens[1]!.start).toBeLessThanOrEqual(700_000);
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
    expect(staged.files[0]!.md5).toBe(md5(data));
  });

  it('a source without ranges starts a dropped file over', async () => {
    const src = new MemorySource({ ranges: false });
    const data = randomBytes(2 * M);
    src.put('model/big.bin', data);
    src.dropNext('model/big.bin', 700_000);
    const { bytes } = await fetched(src);
    expect(src.opens.map((o) => o.start)).toEqual([0, 0]);
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
  });
});

describe('ranged parts', () => {
  it.each([
    [
      'a boundary at the end of the file',
      4 * M,
      [
        [0, 2 * M],
        [2 * M, 2 * M],
      ],
    ],
    [
      'a short last part',
      5 * M + 7,
      [
        [0, 2 * M],
        [2 * M, 2 * M],
        [4 * M, M + 7],
      ],
    ],
  ] as const)('%s: every byte once, the md5 of the whole file', async (_what, size, ranges) => {
    const src = new MemorySource();
    const data = randomBytes(size);
    src.put('model/big.bin', data);
    src.put('model/small.txt', 'small');
    const { staged, bytes } = await fetched(src, { partSize: 2 * M });
    const opens = src.opens.filter((o) => o.path === 'model/big.bin').map((o) => [o.start, o.length]);
    expect(opens.sort((x, y) => x[0]! - y[0]!)).toEqual(ranges);
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
    expect(staged.files.find((f) => f.path === 'big.bin')!.md5).toBe(md5(data));
  });

  it('a part dropped mid-way resumes inside that part only', async () => {
    const src = new MemorySource();
    const data = randomBytes(6 * M);
    src.put('model/big.bin', data);
    src.dropNext('model/big.bin', 700_000);
    const { bytes } = await fetched(src, { partSize: 2 * M, concurrency: 2 });
    const opens = src.opens.filter((o) => o.path === 'model/big.bin');
    expect(opens).toHaveLength(4);
    const retry = opens[3]!;
    const dropped = opens.find((o) => o.start < retry.start && retry.start < o.start + o.length!)!;
    expect(dropped).toBeDefined();
    expect(retry.start + retry.length!).toBe(dropped.start + dropped.length!);
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
  });
});

describe('an interrupted sync resumes only the same version', () => {
  async function interrupted(src: MemorySource, o: Partial<FetchOptions>, ...after: number[]): Promise<void> {
    src.dropNext('model/big.bin', ...(after.length ? after : [1536 * 1024]));
    await expect(fetched(src, { ...o, retries: 0 })).rejects.toThrow(/dropped/);
    src.opens.length = 0;
  }

  it('a whole file goes on from its bytes on disk', async () => {
    const src = new MemorySource();
    const data = randomBytes(3 * M);
    src.put('model/big.bin', data);
    await interrupted(src, {});
    const { bytes } = await fetched(src);
    expect(src.opens.map((o) => o.start)).toEqual([1536 * 1024]); // three whole 512 KiB batches were on disk
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
  });

  it('completed parts are kept, the dropped one fetched again', async () => {
    const src = new MemorySource();
    const data = randomBytes(4 * M);
    src.put('model/big.bin', data);
    // two parts at a time: parts 0 and 1 land, part 2 is dropped and the fetch fails (part 3 may land or not)
    await interrupted(src, { partSize: M, concurrency: 2 }, Infinity, Infinity, 700_000);
    const { bytes } = await fetched(src, { partSize: M, concurrency: 2 });
    const starts = src.opens.map((o) => o.start);
    expect(starts).toContain(2 * M);
    expect(starts).not.toContain(0);
    expect(starts).not.toContain(M);
    expect(md5(await bytes('big.bin'))).toBe(md5(data));
  });

  it('a file replaced since (another ETag) starts from 0', async () => {
    const src = new MemorySource();
    src.put('model/big.bin', randomBytes(3 * M));
    await interrupted(src, {});
    const next = randomBytes(3 * M);
    src.put('model/big.bin', next);
    const { bytes } = await fetched(src);
    expect(src.opens.map((o) => o.start)).toEqual([0]);
    expect(md5(await bytes('big.bin'))).toBe(md5(next));
  });
});
