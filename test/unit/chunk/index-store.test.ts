import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestBuffer } from '../../../src/chunk/build.js';
import { encodeIndex } from '../../../src/chunk/index-format.js';
import { IndexStore } from '../../../src/chunk/index-store.js';
import { MiB, pseudoRandom } from '../../helpers/bytes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-ixstore-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const indexOf = (seed: number) => {
  const data = pseudoRandom(2 * MiB, seed);
  const d = digestBuffer(data);
  return { bytes: encodeIndex(d.index!), size: data.length, md5: d.md5 };
};

describe('IndexStore', () => {
  it('stores an index under the hash of its bytes and gives it back, checked against the file it describes', async () => {
    const s = new IndexStore(path.join(dir, 'm.chunk-indexes'));
    const a = indexOf(1);
    const key = await s.put(a.bytes);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await s.put(a.bytes)).toBe(key);
    expect((await s.get(key, { size: a.size, md5: a.md5 }))?.md5).toBe(a.md5);
    // another file's size or md5, a key that is no hash, a key not stored: unknown
    expect(await s.get(key, { size: a.size + 1, md5: a.md5 })).toBeNull();
    expect(await s.get(key, { size: a.size, md5: '0'.repeat(32) })).toBeNull();
    expect(await s.get('../x', { size: a.size })).toBeNull();
    expect(await s.get('f'.repeat(64), { size: a.size })).toBeNull();
  });

  it('an altered index file is unknown, never another index', async () => {
    const s = new IndexStore(path.join(dir, 'm.chunk-indexes'));
    const a = indexOf(2);
    const key = await s.put(a.bytes);
    const altered = Buffer.from(a.bytes);
    altered[altered.length - 1]! ^= 1;
    await writeFile(path.join(s.dir, `${key}.cdx`), altered);
    expect(await s.get(key, { size: a.size, md5: a.md5 })).toBeNull();
    // put() mends it
    await s.put(a.bytes);
    expect(await s.get(key, { size: a.size, md5: a.md5 })).not.toBeNull();
  });

  it('prune keeps the last `keep` generations and deletes every other index and leftover', async () => {
    const s = new IndexStore(path.join(dir, 'm.chunk-indexes'));
    const [a, b, c] = [indexOf(3), indexOf(4), indexOf(5)];
    const ka = await s.put(a.bytes);
    await s.prune([ka], 2);
    const kb = await s.put(b.bytes);
    await s.prune([kb], 2);
    await writeFile(path.join(s.dir, 'junk.tmp'), 'x');
    const kc = await s.put(c.bytes);
    await s.prune([kc], 2);
    expect((await readdir(s.dir)).sort()).toEqual([`${kb}.cdx`, `${kc}.cdx`, 'generations.json'].sort());
  });

  it('never writes through a link planted at the store', async () => {
    await symlink(dir, path.join(dir, 'm.chunk-indexes'));
    const s = new IndexStore(path.join(dir, 'm.chunk-indexes'));
    await expect(s.put(indexOf(6).bytes)).rejects.toThrow(/symbolic link/);
  });
});
