/**
 * 30 × kill -9 of the monitor at random moments of a sync (mid-fetch,
 * mid-swap, mid-reload), each followed by a restart: every time a complete
 * model is served afterwards, staging is clean and no journal is left.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, start } from '../helpers/cli.js';
import { modelFiles, publish, readTree } from '../helpers/producer.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-kill-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const KILLS = 30;

it(`${KILLS} kill -9 at random moments, each followed by a restart: a complete model is always served`, async () => {
  const remote = path.join(dir, 'remote');
  const local = path.join(dir, 'local');
  const args = ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
  const served = path.join(local, 'model');
  const tally = { killedBeforeSwap: 0, killedAfterSwap: 0, recoveredSwaps: 0 };
  for (let n = 1; n <= KILLS; n++) {
    const blob = randomBytes(512 * 1024 * (1 + (n % 4)));
    const files = modelFiles(n, { 'params/blob.bin': blob });
    await publish(remote, 'model', files);
    // Half the runs slow the pull down so the kill lands mid-fetch; the others are fast so it lands near the swap.
    const slow = n % 2 === 0 ? ['--bwlimit', '4M'] : [];
    const w = start(['watch', ...args, '--interval', '0.05', ...slow]);
    await w.waitFor((l) => l.event === 'change' || l.event === 'start', 'the cycle starting');
    await new Promise((r) => setTimeout(r, Math.random() * (slow.length ? 600 : 150))); // the fault's moment, not a sync
    w.child.kill('SIGKILL');
    await w.exited;
    if (w.count((l) => l.event === 'updated') > 0) tally.killedAfterSwap++;
    else tally.killedBeforeSwap++;

    const r = await run(['sync', ...args]);
    expect(r.code, `restart after kill ${n}: ${r.stderr}`).toBe(0);
    if (r.lines.some((l) => l.event === 'recover' || (l.event === 'start' && l.recover !== 'clean'))) tally.recoveredSwaps++;
    const tree = await readTree(served);
    delete tree['fluid_time_file'];
    expect(tree['__model__']).toBe(`model version ${n}\n`);
    expect(Object.keys(tree).sort()).toEqual(Object.keys(files).sort());
    expect(tree['params/fc_0.b_0']).toBe(`bias ${n}\n`);
    const work = await readdir(path.join(local, '_serving_monitor_tmp'));
    expect(work.filter((f) => f.includes('journal') || f.endsWith('.tmp'))).toEqual([]);
    expect(await readdir(path.join(local, '_serving_monitor_tmp', 'model.staging')).catch(() => [])).toEqual([]);
  }
  console.log(`kill -9: ${JSON.stringify(tally)}`);
}, 300_000);

it('a pull killed mid-way resumes after the restart: completed files are not downloaded again', async () => {
  const remote = path.join(dir, 'resume-remote');
  const local = path.join(dir, 'resume-local');
  const args = ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
  const files = modelFiles(1, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`shard-${i}.bin`, randomBytes(1024 * 1024)])));
  await publish(remote, 'model', files);
  const w = start(['watch', ...args, '--interval', '0.05', '--bwlimit', '4M', '--concurrency', '2']);
  await w.waitFor((l) => l.event === 'change', 'the pull starting');
  const staging = path.join(local, '_serving_monitor_tmp', 'model.staging');
  // kill once a few files are complete (the journal of completed files has lines)
  const { readFile } = await import('node:fs/promises');
  const { waitFor } = await import('../servers/ports.js');
  await waitFor(
    async () => {
      const [v] = await readdir(staging).catch(() => []);
      const done = v ? await readFile(path.join(staging, v, 'done.jsonl'), 'utf8').catch(() => '') : '';
      return done.split('\n').filter(Boolean).length >= 3;
    },
    'three files completed',
    30_000,
  );
  w.child.kill('SIGKILL');
  await w.exited;
  const r = await run(['sync', ...args]);
  expect(r.code, r.stderr).toBe(0);
  const resumed = r.lines.find((l) => l.event === 'resumed');
  expect(resumed?.bytes).toBeGreaterThanOrEqual(3 * 1024 * 1024 - 1024 * 1024);
  const tree = await readTree(path.join(local, 'model'));
  expect(tree['__model__']).toBe('model version 1\n');
  expect(Object.keys(tree)).toHaveLength(Object.keys(files).length + 1);
}, 120_000);
