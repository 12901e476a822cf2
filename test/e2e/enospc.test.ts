/**
 * Disk space: a model that cannot fit is refused before anything is
 * downloaded; ENOSPC in the middle of a pull cleans staging and keeps the
 * served model; once space is back the latest model is applied.
 * Needs a small tmpfs (root); skipped with a reason when mount is refused.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

let dir: string;
let mnt: string;
let mounted = false;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-nospc-'));
  mnt = path.join(dir, 'mnt');
  await mkdir(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'tmpfs', mnt], { stdio: 'ignore' });
    mounted = true;
  } catch {
    console.warn('enospc tests skipped: cannot mount a tmpfs here (needs root)');
  }
});
afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', mnt]);
  await rm(dir, { recursive: true, force: true });
});

/** Fills the filesystem until ENOSPC; returns the filler's path. */
async function fill(p: string): Promise<void> {
  const fh = await open(p, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
}

describe.skipIf(process.getuid?.() !== 0)('disk space', () => {
  it('a model larger than the free space is refused before any download', async () => {
    if (!mounted) return;
    const remote = path.join(dir, 'r1');
    const local = path.join(mnt, 'l1');
    await publish(remote, 'model', modelFiles(1, { 'big.bin': randomBytes(140 * 1024 * 1024) }));
    const r = await run(['sync', '--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local]);
    expect(r.code).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/not enough free space/);
    expect(await readdir(path.join(local, '_serving_monitor_tmp', 'model.staging')).catch(() => [])).toEqual([]);
    await rm(local, { recursive: true, force: true });
  });

  it('ENOSPC mid-pull: staging cleaned, served model kept; the latest model lands once space is back', async () => {
    if (!mounted) return;
    const remote = path.join(dir, 'r2');
    const local = path.join(mnt, 'l2');
    await publish(remote, 'model', modelFiles(1));
    const w = start([
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
      '0.1',
      '--bwlimit',
      '8M',
    ]);
    try {
      await w.waitFor(updated, 'v1');
      await publish(remote, 'model', modelFiles(2, { 'big.bin': randomBytes(40 * 1024 * 1024) }));
      await w.waitFor((l) => l.event === 'change' && w.count((x) => x.event === 'change') === 2, 'v2 pull starting');
      const filler = path.join(mnt, 'filler');
      await fill(filler);
      await w.waitFor((l) => l.event === 'sync-failed' && /no space|not enough free space/.test(JSON.stringify(l)), 'ENOSPC reported');
      expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
      await rm(filler);
      await w.waitFor((l) => updated(l) && w.count(updated) === 2, 'v2 lands once space is back', 60_000);
      expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 2\n');
    } finally {
      await w.stop();
    }
  });
});
