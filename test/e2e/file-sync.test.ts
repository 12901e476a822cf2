/**
 * The cycle end to end through the real CLI over the file:// source: what must
 * hold for every source (served = remote exactly, restart does not re-pull,
 * sync exit codes, the single-instance lock, status).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { asStrings, exists, modelFiles, publish, readTree, touchDonefile } from '../helpers/producer.js';

let dir: string;
let remote: string;
let local: string;
const args = () => ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-e2e-'));
  remote = path.join(dir, 'remote');
  local = path.join(dir, 'local');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('sync over file://', () => {
  it('pulls the model; the served dir equals the remote exactly (removed files go), timestamp file aside', async () => {
    await publish(remote, 'model', modelFiles(1, { 'old-only.txt': 'gone next time' }));
    expect((await run(['sync', ...args()])).code).toBe(0);
    const served = path.join(local, 'model');
    const first = await readTree(served);
    expect(first['old-only.txt']).toBe('gone next time');
    expect(Number(first['fluid_time_file'])).toBeGreaterThan(1_700_000_000);

    await publish(remote, 'model', modelFiles(2));
    expect((await run(['sync', ...args()])).code).toBe(0);
    const second = await readTree(served);
    delete second['fluid_time_file'];
    expect(second).toEqual(asStrings(modelFiles(2)));
  });

  it('a restarted monitor does not download the model it already serves', async () => {
    await publish(remote, 'model', modelFiles(1));
    expect((await run(['sync', ...args()])).code).toBe(0);
    const again = await run(['sync', ...args()]);
    expect(again.code).toBe(0);
    expect(again.lines.some((l) => l.event === 'current')).toBe(true);
    expect(again.lines.some((l) => l.event === 'change')).toBe(false);
  });

  it('no donefile yet: sync exits 1 and serves nothing', async () => {
    await publish(remote, 'model', modelFiles(1));
    await rm(path.join(remote, 'donefile'));
    const r = await run(['sync', ...args()]);
    expect(r.code).toBe(1);
    expect(await exists(path.join(local, 'model'))).toBe(false);
  });

  it('a donefile without a model: sync exits 1, the served model is untouched', async () => {
    await publish(remote, 'model', modelFiles(1));
    expect((await run(['sync', ...args()])).code).toBe(0);
    await rm(path.join(remote, 'model'), { recursive: true });
    await touchDonefile(remote);
    const r = await run(['sync', ...args()]);
    expect(r.code).toBe(1);
    expect(r.lines.find((l) => l.event === 'sync-failed')?.msg).toMatch(/model .* is not|sync failed/);
    const served = await readTree(path.join(local, 'model'));
    delete served['fluid_time_file'];
    expect(served).toEqual(asStrings(modelFiles(1)));
  });

  it('an empty remote model is refused, never served', async () => {
    await publish(remote, 'model', modelFiles(1));
    expect((await run(['sync', ...args()])).code).toBe(0);
    await publish(remote, 'model', {});
    const r = await run(['sync', ...args()]);
    expect(r.code).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/no files|empty/);
    expect(Object.keys(await readTree(path.join(local, 'model')))).toContain('__model__');
  });

  it('a second monitor on the same served path exits 2 naming the holder pid; a stale lock is taken over', async () => {
    await publish(remote, 'model', modelFiles(1));
    const w = start(['watch', ...args(), '--interval', '0.2']);
    try {
      await w.waitFor(updated, 'first swap');
      const second = await run(['sync', ...args()]);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`pid ${w.child.pid}`);
    } finally {
      await w.stop();
    }
    // a lock left by a dead process
    await writeFile(path.join(local, '_serving_monitor_tmp', 'model.lock'), '999999\n');
    expect((await run(['sync', ...args()])).code).toBe(0);
  });

  it('status --json shows the served version, its fingerprint and the backups', async () => {
    await publish(remote, 'model', modelFiles(1));
    await run(['sync', ...args()]);
    await publish(remote, 'model', modelFiles(2));
    await run(['sync', ...args()]);
    const r = await run(['status', ...args(), '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      served: { version: string; fingerprint: string };
      backups: { version: string }[];
    };
    expect(doc.served.fingerprint).toMatch(/^mtime:/);
    expect(doc.backups).toHaveLength(1);
  });
});
