/**
 * Reload and validate hooks as a user runs them, through the CLI: a hook that
 * leaves a child in the background is not waited for; one killed on its
 * deadline says "timed out" and the failure says what is served (the new
 * model, after a swap); 100 MB of output costs a few KiB of log and status;
 * model-monitor's own secrets do not reach a hook's environment, and one typed
 * on the command line gets a warning.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-hooks-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function setup(name: string) {
  const remote = path.join(dir, name, 'remote');
  const local = path.join(dir, name, 'local');
  await publish(remote, 'model', modelFiles(1));
  const args = ['sync', '--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
  return { remote, local, args, status: path.join(local, '_serving_monitor_tmp', 'model.status.json') };
}

const longest = (lines: readonly { msg: string }[]) => Math.max(...lines.map((l) => JSON.stringify(l).length));

describe('hooks', () => {
  it("--exec 'sleep 100 & echo started' --exec-timeout 5: the sync ends when the shell does, not the background child", async () => {
    const s = await setup('bg');
    const pidfile = path.join(dir, 'bg', 'child.pid');
    const r = await run([...s.args, '--exec', `sleep 100 & echo $! > '${pidfile}'; echo started`, '--exec-timeout', '5'], { timeoutMs: 60_000 });
    try {
      expect(r.code, r.stderr).toBe(0);
    } finally {
      const pid = Number(await readFile(pidfile, 'utf8').catch(() => '0'));
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
  });

  it('an --exec killed on its deadline "timed out", and the failure says the new model is served', async () => {
    const s = await setup('timeout');
    const r = await run([...s.args, '--exec', 'sleep 30', '--exec-timeout', '1']);
    expect(r.code).toBe(1);
    const failed = r.lines.find((l) => l.event === 'sync-failed')!;
    expect(failed.msg).toMatch(/--exec command timed out after 1s/);
    expect(failed.msg).not.toMatch(/cancelled|unchanged/);
    expect(failed.msg).toMatch(new RegExp(`now serving ${String(r.lines.find((l) => l.event === 'change')?.version)}$`));
    expect(await readFile(path.join(s.local, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
  });

  it('a --validate printing 100 MB and exiting 0 accepts the model; log lines and the status file stay small', async () => {
    const s = await setup('loud-ok');
    const r = await run([...s.args, '--validate', 'head -c 104857600 /dev/zero | tr "\\\\0" x'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(0, 500)).toBe(0);
    expect(longest(r.lines)).toBeLessThan(16 * 1024);
    expect((await stat(s.status)).size).toBeLessThan(16 * 1024);
  });

  it('a --validate printing 100 MB to stderr and exiting 3 rejects it with a bounded message', async () => {
    const s = await setup('loud-no');
    const r = await run([...s.args, '--validate', 'head -c 104857600 /dev/zero | tr "\\\\0" y >&2; exit 3'], { timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    const failed = r.lines.find((l) => l.event === 'sync-failed')!;
    expect(failed.msg).toMatch(/--validate rejected .*: command exited with code 3: …y+/);
    expect(longest(r.lines)).toBeLessThan(16 * 1024);
    expect((await stat(s.status)).size).toBeLessThan(16 * 1024);
  });

  it("MODEL_MONITOR_* secrets are not in a hook's environment; a password flag on the command line is warned about", async () => {
    const s = await setup('secrets');
    const out = path.join(dir, 'secrets', 'env.txt');
    const r = await run([...s.args, '--exec', `env > '${out}'`, '--ftp-password', 'typed-secret'], {
      env: { MODEL_MONITOR_S3_SECRET: 'x', MODEL_MONITOR_HDFS_TOKEN: 'hunter2' },
    });
    expect(r.code, r.stderr).toBe(0);
    const env = await readFile(out, 'utf8');
    expect(env).not.toMatch(/hunter2|MODEL_MONITOR_/);
    expect(env).toMatch(/^MODEL_DIR=/m);
    expect(r.stderr).toMatch(/warning: --ftp-password is visible to other users in ps: use --ftp-password-file FILE or MODEL_MONITOR_FTP_PASSWORD/);
    expect(r.stdout).not.toMatch(/typed-secret/);
  });
});
