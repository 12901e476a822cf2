/**
 * --part-size: a big file comes as parallel ranged parts (WebHDFS OPEN with
 * offset + length), lands byte-exact, survives a drop inside a part, is hashed
 * against an md5 manifest, and a kill -9 keeps the parts already journalled.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { md5, publish } from '../helpers/producer.js';
import { WebHdfsTestServer, type LoggedRequest } from '../servers/webhdfs.js';

const MiB = 1024 * 1024;
let dir: string;
let nn: WebHdfsTestServer;
let local: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-parts-'));
  nn = await WebHdfsTestServer.start({ root: path.join(dir, 'hdfs') });
  local = path.join(dir, 'local');
});
afterEach(async () => {
  await nn.close();
  await rm(dir, { recursive: true, force: true });
});

const BIG = '/models/model/big.bin';
const args = (...extra: string[]) => [
  'sync',
  '--remote',
  `${nn.url}/models`,
  '--remote_model_name',
  'model',
  '--remote_donefile_name',
  'donefile',
  '--local_path',
  local,
  ...extra,
];
const bigOpens = (): LoggedRequest[] => nn.requests.filter((r) => r.server === 'dn' && r.path === BIG);
const ranges = (rs: LoggedRequest[]) => rs.map((r) => [Number(r.params.offset), Number(r.params.length)]).sort((a, b) => a[0]! - b[0]!);

async function publishBig(big: Buffer, manifest?: string): Promise<void> {
  await publish(path.join(dir, 'hdfs', 'models'), 'model', { 'big.bin': big, 'small.txt': 'small' }, manifest ? { donefileContent: manifest } : {});
}

it('a file over --part-size arrives as parallel ranged parts, byte-exact', async () => {
  const big = randomBytes(10 * MiB);
  await publishBig(big);
  const r = await run(args('--part-size', '2M', '--concurrency', '4'));
  expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
  expect(md5(await readFile(path.join(local, 'model', 'big.bin')))).toBe(md5(big));
  expect(ranges(bigOpens())).toEqual([0, 1, 2, 3, 4].map((i) => [i * 2 * MiB, 2 * MiB]));
  // every byte once (plus the donefile's few bytes)
  expect(nn.dataBytes - big.length - 'small'.length).toBeLessThan(64);
  // no parts file is left behind, and the served dir holds the model only
  expect((await readdir(path.join(local, 'model'))).sort()).toEqual(['big.bin', 'fluid_time_file', 'small.txt']);
});

it('--part-size 0 and a file under the size: one stream, no ranges', async () => {
  const big = randomBytes(3 * MiB);
  await publishBig(big);
  const r = await run(args('--part-size', '0'));
  expect(r.code, r.stderr).toBe(0);
  expect(ranges(bigOpens())).toEqual([[0, NaN]]);
  const bad = await run(args('--part-size', '100k'));
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--part-size.*at least 1M/);
});

it('a connection dropped inside a part resumes within that part', async () => {
  const big = randomBytes(8 * MiB);
  await publishBig(big);
  nn.dropNext(BIG, 700_000, 300_000);
  const r = await run(args('--part-size', '2M', '--concurrency', '2'));
  expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
  expect(md5(await readFile(path.join(local, 'model', 'big.bin')))).toBe(md5(big));
  // only bytes in flight at a drop may come twice
  expect(nn.dataBytes).toBeLessThan(big.length + 'small'.length + 2 * 256 * 1024);
});

it('an md5 manifest is checked against the whole parted file', async () => {
  const big = randomBytes(6 * MiB);
  await publishBig(big, `${md5(big)}  big.bin\n${md5('small')}  small.txt\n`);
  const ok = await run(args('--part-size', '1M'));
  expect(ok.code, ok.stderr + ok.stdout.slice(-2000)).toBe(0);
  expect(ranges(bigOpens())).toHaveLength(6);
  const other = randomBytes(6 * MiB);
  await publishBig(other, `${md5(big)}  big.bin\n${md5('small')}  small.txt\n`);
  const bad = await run(args('--part-size', '1M'));
  expect(bad.code).toBe(1);
  expect(bad.stdout + bad.stderr).toMatch(/big\.bin/);
  expect(md5(await readFile(path.join(local, 'model', 'big.bin')))).toBe(md5(big));
});

it('kill -9 mid-pull: the parts already journalled are not fetched again, and the md5 still covers them', async () => {
  const big = randomBytes(12 * MiB);
  await publishBig(big, `${md5(big)}  big.bin\n${md5('small')}  small.txt\n`);
  nn.throttleBytesPerSec = 6 * MiB;
  const staging = path.join(local, '_serving_monitor_tmp', 'model.staging');
  const partsDone = async (): Promise<number[]> => {
    const [v] = await readdir(staging).catch(() => []);
    const text = v ? await readFile(path.join(staging, v, 'done.jsonl'), 'utf8').catch(() => '') : '';
    return text
      .split('\n')
      .filter((l) => l.includes('"part"'))
      .map((l) => (JSON.parse(l) as { part: number }).part)
      .filter((p) => p >= 0);
  };
  const w = start(args('--part-size', '1M', '--concurrency', '2'));
  const deadline = Date.now() + 60_000;
  while ((await partsDone()).length < 3) {
    expect(Date.now(), 'three parts journalled').toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 20));
  }
  w.child.kill('SIGKILL');
  await w.exited;
  const kept = await partsDone();
  nn.throttleBytesPerSec = 0;
  nn.requests.length = 0;
  const r = await run(args('--part-size', '1M', '--concurrency', '2'));
  expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
  expect(md5(await readFile(path.join(local, 'model', 'big.bin')))).toBe(md5(big));
  const again = ranges(bigOpens()).map(([offset]) => offset);
  for (const p of kept) expect(again).not.toContain(p);
  expect(r.lines.find((l) => l.event === 'resumed')?.bytes).toBeGreaterThanOrEqual(kept.length * MiB);
  expect(r.lines.some(updated)).toBe(true);
});

it('--bwlimit is one budget for all parts together', async () => {
  const big = randomBytes(8 * MiB);
  await publishBig(big);
  const t0 = performance.now();
  const r = await run(args('--part-size', '1M', '--concurrency', '4', '--bwlimit', '2M'));
  const elapsed = performance.now() - t0;
  expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
  expect(md5(await readFile(path.join(local, 'model', 'big.bin')))).toBe(md5(big));
  expect(ranges(bigOpens())).toHaveLength(8);
  // one second of burst (2 MiB), then 2 MiB/s for the other 6 MiB: four streams at 2 MiB/s each would take 1 s
  expect(elapsed).toBeGreaterThan(2_500);
});
