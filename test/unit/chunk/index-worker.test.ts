/**
 * The chunk index built on the worker thread is the one built in-thread. The
 * worker runs compiled code: this uses dist/ (npm test's pretest builds it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { digestBuffer } from '../../../src/chunk/build.js';
import { encodeIndex } from '../../../src/chunk/index-format.js';
import { ROOT } from '../../helpers/cli.js';
import { MiB, pieces, pseudoRandom } from '../../helpers/bytes.js';

const dist = path.join(ROOT, 'dist', 'chunk', 'index-pool.js');

it.skipIf(!existsSync(dist))('the worker thread builds the same index, with backpressure over many buffers', async () => {
  const { IndexWorker } = (await import(dist)) as typeof import('../../../src/chunk/index-pool.js');
  const data = pseudoRandom(40 * MiB + 5, 8);
  const want = digestBuffer(data).index!;
  const w = IndexWorker.create()!;
  try {
    const [a, b] = [w.start(want.params), w.start(want.params)];
    for (const p of pieces(data, 2 * MiB)) await Promise.all([a.push(p), b.push(p)]);
    const [ia, ib] = await Promise.all([a.end(data.length, want.md5), b.end(data.length, want.md5)]);
    expect(encodeIndex(ia).equals(encodeIndex(want))).toBe(true);
    expect(encodeIndex(ib).equals(encodeIndex(want))).toBe(true);
  } finally {
    await w.close();
  }
});
