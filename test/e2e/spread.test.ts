/**
 * e2e: --spread. A detected change waits a random delay up to --spread before
 * the pull (logged with its length), then pulls; a shutdown during the wait
 * ends it at once, leaving nothing half done.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, start } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-spread-'));
  await publish(path.join(dir, 'remote'), 'model', modelFiles(1));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const flags = (local: string) => [
  '--remote',
  `file://${path.join(dir, 'remote')}`,
  '--remote_model_name',
  'model',
  '--remote_donefile_name',
  'donefile',
  '--local_path',
  path.join(dir, local),
];

it('sync --spread 2: waits at most 2 s after seeing the change, then pulls', async () => {
  const r = await run(['sync', ...flags('a'), '--spread', '2']);
  expect(r.code, r.stderr).toBe(0);
  const spread = r.lines.find((l) => l.event === 'spread');
  const change = r.lines.findIndex((l) => l.event === 'change');
  const updated = r.lines.findIndex((l) => l.event === 'updated');
  if (spread) {
    // (a draw of exactly 0 ms, 1 in 2000, logs nothing and waits nothing)
    expect(spread['delayMs']).toBeGreaterThan(0);
    expect(spread['delayMs']).toBeLessThan(2000);
    expect(r.lines.indexOf(spread)).toBeGreaterThan(change);
    expect(r.lines.indexOf(spread)).toBeLessThan(updated);
  }
  expect(await readFile(path.join(dir, 'a', 'model', '__model__'), 'utf8')).toBe('model version 1\n');
});

it('watch --spread: SIGTERM during the wait exits 0 at once, nothing served, nothing staged', async () => {
  const mm = start(['watch', ...flags('b'), '--spread', '3600']);
  await mm.waitFor((l) => l.event === 'spread', 'the spread wait');
  expect(await mm.stop('SIGTERM')).toBe(0);
  await expect(readFile(path.join(dir, 'b', 'model', '__model__'))).rejects.toThrow();
  await expect(stat(path.join(dir, 'b', '_serving_monitor_tmp', 'model.staging'))).rejects.toThrow();
});
