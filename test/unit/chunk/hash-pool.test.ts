/**
 * The md5 and chunk index built on the hash pool's worker threads are the ones
 * built in-thread. The workers run compiled code: this uses dist/ (npm test's
 * pretest builds it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { digestBuffer } from '../../../src/chunk/build.js';
import { encodeIndex } from '../../../src/chunk/index-format.js';
import { ROOT } from '../../helpers/cli.js';
import { MiB, pieces, pseudoRandom } from '../../helpers/bytes.js';

const dist = path.join(ROOT, 'dist', 'chunk', 'hash-pool.js');

it.skipIf(!existsSync(dist))('the workers give the in-thread md5 and index, over many buffers and files at once', async () => {
  const { HashPool } = (await import(dist)) as typeof import('../../../src/chunk/hash-pool.js');
  const data = pseudoRandom(40 * MiB + 5, 8);
  const want = digestBuffer(data);
  const pool = HashPool.create(2)!;
  try {
    const [a, b, c] = [pool.file(want.index!.params), pool.file(want.index!.params), pool.file(null)];
    for (const p of pieces(data, 2 * MiB)) await Promise.all([a.push(p), b.push(p), c.push(p)]);
    const [ra, rb, rc] = await Promise.all([a.end(), b.end(), c.end()]);
    for (const r of [ra, rb]) {
      expect(r.md5).toBe(want.md5);
      expect(encodeIndex(r.index!(data.length)).equals(encodeIndex(want.index!))).toBe(true);
    }
    expect(rc).toEqual({ md5: want.md5, index: null });
  } finally {
    await pool.close();
  }
});
