/** --incremental: one changed 2 MiB file among 16 moves 2 MiB, and the swap is as atomic as ever. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { md5, publish, readTree, touchDonefile, type ModelFiles } from '../helpers/producer.js';

let dir: string;
let remote: string;
let local: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-incr-'));
  remote = path.join(dir, 'remote');
  local = path.join(dir, 'local');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const shards = (): ModelFiles => Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`shard-${i}.bin`, randomBytes(2 * MiB)]));
const manifestOf = (f: ModelFiles) =>
  Object.entries(f)
    .map(([p, d]) => `${md5(d)}  ${p}`)
    .join('\n') + '\n';
const args = () => [
  'sync',
  '--remote',
  `file://${remote}`,
  '--remote_model_name',
  'model',
  '--remote_donefile_name',
  'donefile',
  '--local_path',
  local,
  '--incremental',
];

async function fetched(): Promise<number> {
  const r = await run(args());
  expect(r.code, r.stderr).toBe(0);
  return r.lines.find((l) => l.event === 'updated')!.fetchedBytes as number;
}

it('with an md5 manifest donefile: only the changed file is downloaded', async () => {
  const v1 = shards();
  await publish(remote, 'model', v1, { donefileContent: manifestOf(v1) });
  expect(await fetched()).toBe(32 * MiB);
  const v2 = { ...v1, 'shard-3.bin': randomBytes(2 * MiB) };
  await publish(remote, 'model', v2, { donefileContent: manifestOf(v2) });
  expect(await fetched()).toBe(2 * MiB);
  const tree = await readTree(path.join(local, 'model'));
  expect(md5(tree['shard-3.bin']!)).toBe(md5(v2['shard-3.bin']!.toString()));
  expect(Object.keys(tree)).toHaveLength(17);
});

it('without hashes, size + remote mtime decide (rsync quick check)', async () => {
  const v1 = shards();
  await publish(remote, 'model', v1);
  expect(await fetched()).toBe(32 * MiB);
  // the producer rewrites one file in place; the others keep their mtimes
  const f = path.join(remote, 'model', 'shard-7.bin');
  await writeFile(f, randomBytes(2 * MiB));
  const t = Date.now() / 1000 + 5;
  await utimes(f, t, t);
  await touchDonefile(remote);
  expect(await fetched()).toBe(2 * MiB);
});
