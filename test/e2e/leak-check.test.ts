/**
 * .ci/leaks.mjs, which .ci/run calls after `npm test`: it names a process the
 * run left behind (by the MM_TEST_RUN marker every child inherits, or by a
 * command line naming the checkout) and fails; once it is gone, it passes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../servers/ports.js';

const LEAKS = path.join(ROOT, '.ci', 'leaks.mjs');

function leaks(args: string[]): Promise<{ code: number; found: { pid: number; why: string; cmd: string }[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LEAKS, ...args, '--json'], { timeout: 30_000 }, (err, stdout) => {
      const code = err ? Number((err as { code?: unknown }).code) : 0;
      resolve({ code, found: JSON.parse(stdout || '[]') as { pid: number; why: string; cmd: string }[] });
    });
  });
}

const started: ChildProcess[] = [];
/** A stand-in for a leaked watcher: idles forever in its own process group. */
function idler(env: NodeJS.ProcessEnv, extraArgs: string[] = []): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ...extraArgs], { detached: true, stdio: 'ignore', env });
  started.push(c);
  return c;
}
const kill = (c: ChildProcess) => {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
};
afterEach(() => started.splice(0).forEach(kill));

describe('.ci/leaks.mjs', () => {
  it('names a process that carries the run marker, and passes once it is gone', async () => {
    const marker = randomUUID();
    const c = idler({ ...process.env, MM_TEST_RUN: marker });
    await waitFor(async () => (await leaks(['--marker', marker, '--wait', '0'])).found.length === 1, 'the idler is seen');
    const r = await leaks(['--marker', marker, '--wait', '0']);
    expect(r.code).toBe(1);
    expect(r.found.map((f) => [f.pid, f.why])).toEqual([[c.pid, 'MM_TEST_RUN']]);
    kill(c);
    expect((await leaks(['--marker', marker, '--wait', '10'])).code).toBe(0);
  });

  it('finds one with a scrubbed environment by its command line naming the checkout', async () => {
    const fakeRoot = await mkdtemp(path.join(tmpdir(), 'mm-leakroot-'));
    try {
      const c = idler({ PATH: process.env.PATH ?? '/usr/bin:/bin' }, [path.join(fakeRoot, 'bin', 'model-monitor.js')]);
      await waitFor(async () => (await leaks(['--root', fakeRoot, '--wait', '0'])).found.some((f) => f.pid === c.pid), 'the idler is seen');
      const r = await leaks(['--root', fakeRoot, '--wait', '0']);
      expect(r.code).toBe(1);
      expect(r.found[0]?.why).toBe('command line');
      kill(c);
      expect((await leaks(['--root', fakeRoot, '--wait', '10'])).code).toBe(0);
    } finally {
      await rm(fakeRoot, { recursive: true, force: true });
    }
  });
});
