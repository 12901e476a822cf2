/** The md5 of a parted file fed in file order whatever order its parts land in (ordered-md5.ts). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPrefix, OrderedMd5 } from '../../src/ordered-md5.js';
import { partLayout } from '../../src/parts.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-md5-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('OrderedMd5', () => {
  const data = randomBytes(3 * 1024 * 1024 + 123);
  const parts = partLayout(data.length, 1024 * 1024);
  const orders: [string, number[]][] = [
    ['in order', [0, 1, 2, 3]],
    ['reversed (nothing hashed until the first part lands)', [3, 2, 1, 0]],
    ['the last part (ending at the end of the file) first', [3, 0, 1, 2]],
    ['interleaved', [1, 3, 0, 2]],
  ];
  it.each(orders)('%s: the md5 of the whole file', async (_what, order) => {
    const file = path.join(dir, `parted-${order.join('')}`);
    await writeFile(file, data);
    const m = new OrderedMd5(file, parts);
    for (const i of order) m.landed(parts[i]!.start);
    expect(await m.digest()).toBe(md5(data));
  });

  it('asking before every part landed is an error, not a wrong md5', async () => {
    const file = path.join(dir, 'partial');
    await writeFile(file, data);
    const m = new OrderedMd5(file, parts);
    m.landed(parts[0]!.start);
    m.landed(parts[2]!.start);
    await expect(m.digest()).rejects.toThrow(/before part 1 landed/);
  });

  it('a file shorter than its parts (cut on disk) fails the digest', async () => {
    const file = path.join(dir, 'short');
    await writeFile(file, data.subarray(0, 2 * 1024 * 1024));
    const m = new OrderedMd5(file, parts);
    for (const p of parts) m.landed(p.start);
    await expect(m.digest()).rejects.toThrow(/ended at/);
  });
});

describe('hashPrefix (a resume point)', () => {
  it.each([0, 1, 65_536, 1_000_000])('the first %d bytes', async (n) => {
    const data = randomBytes(1_000_000);
    const file = path.join(dir, `prefix-${n}`);
    await writeFile(file, data);
    expect((await hashPrefix(file, n)).digest('hex')).toBe(md5(data.subarray(0, n)));
  });
});
