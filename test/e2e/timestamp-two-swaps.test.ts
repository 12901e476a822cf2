/**
 * e2e::timestamp-two-swaps: Paddle Serving reloads when the `fluid_time_file`
 * st_mtime, in whole seconds, grows. Two swaps within one second must still
 * give two different, increasing whole-second mtimes, and the file holds that
 * unix timestamp (Paddle reads it). Run for each swap strategy.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { start, updated, type Running } from '../helpers/cli.js';
import { waitFor } from '../servers/ports.js';

async function publish(remote: string, k: number): Promise<void> {
  const model = path.join(remote, 'model');
  await fsp.rm(model, { recursive: true, force: true });
  await fsp.mkdir(model, { recursive: true });
  await fsp.writeFile(path.join(model, '__model__'), `v${k}`);
  await fsp.writeFile(path.join(model, '__params__'), Buffer.alloc(1000 + k, k));
  const done = path.join(remote, 'donefile');
  // The donefile appears whole, with its final mtime, in one rename (a careful producer's way).
  await fsp.writeFile(`${done}.tmp`, `v${k}\n`);
  const t = Math.floor(Date.now() / 1000) - 10_000 + k * 10;
  await fsp.utimes(`${done}.tmp`, t, t);
  await fsp.rename(`${done}.tmp`, done);
}

/** The served model dir: the model itself, or its highest version dir. */
async function modelDir(base: string, swap: string): Promise<string> {
  if (swap !== 'versioned') return base;
  return path.join(base, String(Math.max(...(await fsp.readdir(base)).filter((n) => /^\d+$/.test(n)).map(Number))));
}

/** mtime in whole seconds and the content of the timestamp file, after checking they agree. */
async function stamp(dir: string): Promise<number> {
  const file = path.join(dir, 'fluid_time_file');
  const [s, text] = await Promise.all([fsp.stat(file), fsp.readFile(file, 'utf8')]);
  const sec = Math.floor(s.mtimeMs / 1000);
  expect(Number(text.trim()), `${file} holds its mtime`).toBe(sec);
  return sec;
}

const roots: string[] = [];
const monitors: Running[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.stop()));
  await Promise.all(roots.splice(0).map((r) => fsp.rm(r, { recursive: true, force: true })));
});

describe('e2e: two swaps within one second give two increasing whole-second timestamps', () => {
  for (const [swap, keep] of [
    ['rename', '2'],
    ['symlink', '2'],
    ['versioned', '2'],
    ['rename', '0'],
    ['versioned', '0'],
  ] as const) {
    it(`--swap ${swap} --keep-backups ${keep}`, async () => {
      const root = await fsp.mkdtemp(path.join(tmpdir(), `mm-ts-${swap}-`));
      roots.push(root);
      const remote = path.join(root, 'remote');
      const base = path.join(root, 'local', 'model');
      await publish(remote, 1);
      const m = start([
        'watch',
        '--remote',
        `file://${remote}`,
        '--remote_model_name',
        'model',
        '--remote_donefile_name',
        'donefile',
        '--local_path',
        path.join(root, 'local'),
        '--swap',
        swap,
        '--keep-backups',
        keep,
        '--interval',
        '0.05',
      ]);
      monitors.push(m);
      await waitFor(() => m.count(updated) >= 1, 'first model', 60_000);
      const stamps = [await stamp(await modelDir(base, swap))];
      let sameSecond = 0;
      // Rapid pairs of swaps started early in a second, until one pair lands within one second.
      for (let k = 2; k <= 9 && sameSecond === 0; k += 2) {
        await waitFor(() => Date.now() % 1000 < 200, 'the start of a second', 5_000);
        for (const v of [k, k + 1]) {
          await publish(remote, v);
          await waitFor(() => m.count(updated) >= v, `update ${v}`, 60_000);
          stamps.push(await stamp(await modelDir(base, swap)));
        }
        const [a, b] = m.lines
          .filter(updated)
          .slice(-2)
          .map((l) => Math.floor(Number(l.time) / 1000));
        if (a === b) sameSecond++;
      }
      for (let i = 1; i < stamps.length; i++) expect(stamps[i], `stamp ${i} > stamp ${i - 1}: ${stamps.join(', ')}`).toBeGreaterThan(stamps[i - 1]!);
      if (sameSecond === 0)
        console.warn(`timestamp-two-swaps (${swap}): no pair of swaps landed within one second on this machine; only monotonicity was checked`);
      expect(m.count((l) => l.event === 'sync-failed')).toBe(0);
    }, 120_000);
  }
});
