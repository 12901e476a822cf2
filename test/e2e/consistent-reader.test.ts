/**
 * A reader that checks the served model in a loop while 50 updates land back
 * to back never sees files from two versions, nor a partial model.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { start, updated, type Running } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

let dir: string;
let w: Running;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-reader-'));
});
afterAll(async () => {
  await w?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Seen = 'consistent' | 'raced' | 'absent' | { bad: string };

/** One read of the whole served model; a read during which the dir was replaced is "raced", not judged. */
async function readOnce(served: string): Promise<Seen> {
  const before = await stat(served).catch(() => null);
  if (!before) return 'absent';
  try {
    const names = (await readdir(served, { recursive: true })).filter((n) => !n.endsWith('fluid_time_file'));
    const model = await readFile(path.join(served, '__model__'), 'utf8');
    const w0 = await readFile(path.join(served, 'params', 'fc_0.w_0'), 'utf8');
    const b0 = await readFile(path.join(served, 'params', 'fc_0.b_0'), 'utf8');
    const after = await stat(served);
    if (after.ino !== before.ino) return 'raced';
    const n = /model version (\d+)/.exec(model)?.[1];
    if (!n) return { bad: `__model__ unreadable: ${model}` };
    if (!w0.startsWith(`weights of version ${n}\n`) || w0 !== `weights of version ${n}\n`.repeat(50 + Number(n))) return { bad: `weights not of version ${n}` };
    if (b0 !== `bias ${n}\n`) return { bad: `bias not of version ${n}: ${b0}` };
    if (!names.includes('__model__') || names.filter((x) => !x.endsWith('params')).length !== 3) return { bad: `files: ${names.join(',')}` };
    return 'consistent';
  } catch (err) {
    const after = await stat(served).catch(() => null);
    if (!after || after.ino !== before.ino) return 'raced';
    return { bad: String(err) };
  }
}

it('50 back-to-back updates: 0 mixed or partial models seen', async () => {
  const remote = path.join(dir, 'remote');
  const local = path.join(dir, 'local');
  const served = path.join(local, 'model');
  await publish(remote, 'model', modelFiles(1));
  w = start([
    'watch',
    '--remote',
    `file://${remote}`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    local,
    '--interval',
    '0.02',
  ]);
  await w.waitFor(updated, 'first model');
  const tally = { consistent: 0, raced: 0, absent: 0, bad: [] as string[] };
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const s = await readOnce(served);
      if (typeof s === 'string') tally[s]++;
      else tally.bad.push(s.bad);
    }
  })();
  for (let n = 2; n <= 51; n++) {
    await publish(remote, 'model', modelFiles(n));
    await w.waitFor((l) => updated(l) && l.files === 3 && w.count(updated) >= n, `update ${n}`, 60_000);
  }
  reading = false;
  await reader;
  console.log(`reader: ${JSON.stringify({ ...tally, bad: tally.bad.length })}`);
  expect(w.count(updated)).toBe(51);
  expect(tally.bad).toEqual([]);
  expect(tally.consistent).toBeGreaterThan(50);
  expect(await readFile(path.join(served, '__model__'), 'utf8')).toBe('model version 51\n');
}, 240_000);
