/**
 * A swap that cannot complete never leaves the engine a stale or mixed model,
 * and a restart never "finishes" it over the old directory:
 * - staging and the served path on different filesystems (a mount point at
 *   the served path: EBUSY on rename; a --local_tmp_path elsewhere: EXDEV) is
 *   refused at start, before any download, with exit 2 naming both paths;
 * - the disk full at swap time (a tmpfs out of inodes, filled by the
 *   --validate hook, i.e. after the pull and before the swap) fails the sync
 *   with exit 1, the old model served and recorded; once there is room the
 *   next sync pulls the new version. Before, the restart's recovery wrote the
 *   new version's record over the old directory and `sync` said "current".
 * Needs root (mount); skipped with a reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, updated } from '../helpers/cli.js';
import { exists, modelFiles, publish } from '../helpers/producer.js';

let dir: string;
const mounts: string[] = [];
let canMount = process.getuid?.() === 0;

async function tmpfs(name: string, opts: string): Promise<string> {
  const mnt = path.join(dir, name);
  await mkdir(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', mnt], { stdio: 'ignore' });
  mounts.push(mnt);
  return mnt;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-failswap-'));
  if (canMount) {
    try {
      await tmpfs('probe', 'size=1m');
    } catch {
      canMount = false;
      console.warn('failed-swap tests skipped: cannot mount a tmpfs here (needs root)');
    }
  }
});
afterAll(async () => {
  for (const m of mounts.reverse()) execFileSync('umount', ['-l', m]);
  await rm(dir, { recursive: true, force: true });
});

/** Version n with every file the same size in every version: the served-copy size check cannot tell them apart. */
const sameSizes = (n: number) => ({ __model__: `model version ${n}\n`, 'params/w': Buffer.alloc(4096, n) });

const remoteArgs = (remote: string) => ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

describe.skipIf(process.getuid?.() !== 0)('staging and the served path on different filesystems', () => {
  it('the served path is a mount point: exit 2 before any download, naming both paths', async () => {
    if (!canMount) return;
    const remote = path.join(dir, 'r-mount');
    await publish(remote, 'model', modelFiles(1));
    const local = path.join(dir, 'l-mount');
    await mkdir(path.join(local, 'model'), { recursive: true });
    const served = await tmpfs(path.join('l-mount', 'model'), 'size=8m');
    const r = await run(['sync', ...remoteArgs(remote), '--local_path', local]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(local, '_serving_monitor_tmp'));
    expect(r.stderr).toContain(served);
    expect(r.stderr).toMatch(/different filesystems/);
    expect(await exists(path.join(local, '_serving_monitor_tmp', 'model.staging'))).toBe(false);
  });

  it('--local_tmp_path on another filesystem: exit 2, naming both paths', async () => {
    if (!canMount) return;
    const remote = path.join(dir, 'r-xdev');
    await publish(remote, 'model', modelFiles(1));
    const other = await tmpfs('xdev-tmp', 'size=8m');
    const local = path.join(dir, 'l-xdev');
    const r = await run(['sync', ...remoteArgs(remote), '--local_path', local, '--local_tmp_path', path.join(other, 'work')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(other, 'work'));
    expect(r.stderr).toContain(path.join(local, 'model'));
  });
});

describe.skipIf(process.getuid?.() !== 0)('the disk full at swap time', () => {
  for (const swap of ['rename', 'symlink', 'versioned']) {
    it(`--swap ${swap}: exit 1, the old model served and recorded; with room again the next sync pulls the new one`, async () => {
      if (!canMount) return;
      const remote = path.join(dir, `r-full-${swap}`);
      const mnt = await tmpfs(`full-${swap}`, 'size=128m,nr_inodes=400');
      const local = path.join(mnt, 'local');
      const fill = path.join(mnt, 'fill');
      const base = ['sync', ...remoteArgs(remote), '--local_path', local, '--swap', swap];
      await publish(remote, 'model', sameSizes(1));
      expect((await run(base)).code).toBe(0);
      await publish(remote, 'model', sameSizes(2));
      // After the pull, before the swap: take every free inode but one (the swap's journal gets it, the next step fails).
      // (`true >`, not `: >`: a failed redirection of a special builtin makes dash exit.)
      const filler = `mkdir -p '${fill}'; i=0; while true > '${fill}'/f$i 2>/dev/null; do i=$((i+1)); done; rm -f '${fill}'/f0`;
      const failed = await run([...base, '--validate', filler]);
      expect(failed.code, failed.stderr).toBe(1);
      const why = failed.lines.find((l) => l.event === 'sync-failed')?.msg ?? '';
      expect(why, 'the swap itself failed, not the hook').toMatch(/no space left|ENOSPC|ENOENT/i);
      expect(why).not.toMatch(/validate/);
      const servedFile = swap === 'versioned' ? null : path.join(local, 'model', '__model__');
      if (servedFile) expect(await readFile(servedFile, 'utf8')).toBe('model version 1\n');
      await rm(fill, { recursive: true, force: true });
      const status = JSON.parse((await run(['status', ...remoteArgs(remote), '--local_path', local, '--swap', swap, '--json'])).stdout) as {
        served: { version: string } | null;
      };
      const again = await run(base);
      expect(again.code, again.stderr).toBe(0);
      expect(again.lines.some(updated), `the new version is pulled, not reported current (status said ${JSON.stringify(status.served)})`).toBe(true);
      if (servedFile) expect(await readFile(servedFile, 'utf8')).toBe('model version 2\n');
      else expect(await readFile(path.join(local, 'model', '2', '__model__'), 'utf8')).toBe('model version 2\n');
    });
  }
});
