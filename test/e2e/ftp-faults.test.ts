/**
 * FTP faults through the real CLI and in-process ftp-srv: a dropped data
 * connection mid-file, a server restart, a wrong password. `watch` keeps
 * running, the served model is untouched, the next model lands once the
 * fault is gone, and no password ever reaches a log.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { removeRoot, startFtpSrv, worldReadableTempDir } from '../servers/ftp-srv.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
});

async function setup(o: { user?: string; password?: string } = {}) {
  const srv = await startFtpSrv(o);
  const local = await worldReadableTempDir('mm-ftpfault-');
  cleanup.push(
    () => rm(local, { recursive: true, force: true }),
    () => removeRoot(srv),
    () => srv.stop(),
  );
  const remote = path.join(srv.root, 'models');
  const auth = o.user ? `${o.user}:${encodeURIComponent(o.password ?? '')}@` : '';
  const args = [
    '--remote',
    `ftp://${auth}127.0.0.1:${srv.port}/models`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    local,
  ];
  return { srv, local, remote, args };
}

const served = (local: string) => readFile(path.join(local, 'model', '__model__'), 'utf8');

describe('FTP faults', () => {
  it('a connection dropped mid-file is retried; the model arrives complete', async () => {
    const s = await setup();
    const big = randomBytes(3 * 1024 * 1024);
    await publish(s.remote, 'model', modelFiles(1, { 'big.bin': big }));
    s.srv.dropNextDownload('model/big.bin', 1024 * 1024);
    const r = await run(['sync', ...s.args, '--debug']);
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(r.lines.some((l) => l.event === 'retry')).toBe(true);
    expect(Buffer.compare(await readFile(path.join(s.local, 'model', 'big.bin')), big)).toBe(0);
  });

  it('a server restart: watch keeps running, logs the failure once, and applies the next model', async () => {
    const s = await setup();
    await publish(s.remote, 'model', modelFiles(1));
    const w = start(['watch', ...s.args, '--interval', '0.1', '--retries', '1', '--timeout', '2', '--log-level', 'debug']);
    cleanup.push(async () => void (await w.stop()));
    await w.waitFor(updated, 'v1');
    await s.srv.stop();
    await w.waitFor((l) => l.event === 'sync-failed', 'failure while the server is down');
    const failuresLogged = () => w.count((l) => l.event === 'sync-failed' && l.level >= 50);
    await w.waitFor((l) => l.event === 'sync-failed' && l.failures === 3, 'three failed cycles');
    expect(failuresLogged()).toBe(1); // logged once at error level, then debug
    expect(await served(s.local)).toBe('model version 1\n');
    const again = await startFtpSrv({ root: s.srv.root, port: s.srv.port });
    cleanup.push(() => again.stop());
    await publish(s.remote, 'model', modelFiles(2));
    await w.waitFor((l) => updated(l) && w.count(updated) === 2, 'v2 after the restart', 90_000);
    expect(await served(s.local)).toBe('model version 2\n');
    expect(w.child.exitCode).toBeNull();
  });

  it('a wrong password: clear error, no retry storm, never the password in any output', async () => {
    const secret = 'S3cr3t-pa55';
    const s = await setup({ user: 'trainer', password: secret });
    await publish(s.remote, 'model', modelFiles(1));
    const good = await run(['sync', ...s.args, '--debug']);
    expect(good.code, good.stderr).toBe(0);
    const badArgs = s.args.map((a) => a.replace(encodeURIComponent(secret), 'wrong-one'));
    const before = s.srv.logins();
    const bad = await run(['sync', ...badArgs, '--debug']);
    expect(bad.code).toBe(1);
    expect(JSON.stringify(bad.lines)).toMatch(/trainer/);
    expect(s.srv.logins() - before).toBeLessThanOrEqual(2);
    const env = await run(['sync', '--remote', `ftp://trainer@127.0.0.1:${s.srv.port}/models`, ...s.args.slice(2), '--debug', '--print-config'], {
      env: { MODEL_MONITOR_FTP_PASSWORD: secret },
    });
    for (const out of [good.stdout, good.stderr, bad.stdout, bad.stderr, env.stdout, env.stderr]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain('wrong-one');
    }
  });
});
