import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReloadError } from '../../../src/errors.js';
import { ExecFailure, TAIL_BYTES } from '../../../src/exec.js';
import { silentLogger } from '../../../src/log.js';
import { createExecTrigger } from '../../../src/reload/exec.js';
import type { ReloadEvent } from '../../../src/reload/types.js';
import { isAlive } from '../../helpers/checks.js';
import { waitFor } from '../../servers/ports.js';

const event: ReloadEvent = { modelDir: '/srv/model/3', version: 'v3', previousVersion: 'v2', previousDir: '/srv/model/2' };
const ctx = (signal = AbortSignal.timeout(30_000)) => ({ log: silentLogger(), signal });

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'mm-exec-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('--exec trigger', () => {
  it('runs the shell command with MODEL_DIR, MODEL_VERSION and PREVIOUS_VERSION', async () => {
    const out = path.join(dir, 'env.txt');
    const t = createExecTrigger({ command: `printf '%s|%s|%s' "$MODEL_DIR" "$MODEL_VERSION" "$PREVIOUS_VERSION" | tr a-z A-Z > '${out}'`, timeoutMs: 10_000 });
    expect(t.name).toBe('exec');
    await t.fire(event, ctx());
    expect(await fsp.readFile(out, 'utf8')).toBe('/SRV/MODEL/3|V3|V2');
  });

  it('PREVIOUS_VERSION is empty for the first model', async () => {
    const out = path.join(dir, 'prev.txt');
    await createExecTrigger({ command: `printf '[%s]' "$PREVIOUS_VERSION" > '${out}'`, timeoutMs: 10_000 }).fire({ ...event, previousVersion: null }, ctx());
    expect(await fsp.readFile(out, 'utf8')).toBe('[]');
  });

  it('a non-zero exit is a ReloadError naming the code and the end of stderr, with the ExecFailure as cause', async () => {
    const t = createExecTrigger({ command: 'echo "engine said no" >&2; exit 3', timeoutMs: 10_000 });
    const err = await t.fire(event, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as Error).message).toMatch(/exited with code 3: engine said no/);
    expect((err as Error).cause).toBeInstanceOf(ExecFailure);
  });

  it('a command past its deadline is killed: ReloadError "timed out"', async () => {
    const t0 = Date.now();
    const err = await createExecTrigger({ command: 'sleep 30', timeoutMs: 300 })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as Error).message).toMatch(/timed out after 0.3s/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('on the deadline the whole process group goes, not just the shell (nothing left holding the pipes)', async () => {
    const pidfile = path.join(dir, 'grandchild.pid');
    const err = await createExecTrigger({ command: `sleep 30 & echo $! > '${pidfile}'; wait`, timeoutMs: 500 })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out/);
    const pid = Number(await fsp.readFile(pidfile, 'utf8'));
    await waitFor(() => !isAlive(pid), `grandchild ${pid} gone`, 10_000);
  });

  it('the cycle signal cancels it', async () => {
    const ac = new AbortController();
    const p = createExecTrigger({ command: 'sleep 30', timeoutMs: 60_000 }).fire(event, ctx(ac.signal));
    ac.abort(new Error('shutdown'));
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as Error).message).toMatch(/cancelled/);
  });

  it('a child put in the background is not waited for, even when it holds the output pipes', async () => {
    const pidfile = path.join(dir, 'bg.pid');
    const t0 = Date.now();
    await createExecTrigger({ command: `sleep 30 & echo $! > '${pidfile}'; echo started`, timeoutMs: 20_000 }).fire(event, ctx());
    // well before the background sleep ends (30 s) or the deadline (20 s)
    expect(Date.now() - t0).toBeLessThan(15_000);
    process.kill(Number(await fsp.readFile(pidfile, 'utf8')), 'SIGKILL');
  });

  it('a hook printing 50 MB keeps only the tail of its output: a bounded message, the right exit code', async () => {
    const t = createExecTrigger({ command: 'head -c 52428800 /dev/zero | tr "\\0" x; head -c 52428800 /dev/zero | tr "\\0" y >&2; exit 4', timeoutMs: 60_000 });
    const err = (await t.fire(event, ctx()).catch((e: unknown) => e)) as ReloadError;
    expect(err.message).toMatch(/exited with code 4: …y+$/);
    expect(err.message.length).toBeLessThan(400);
    const cause = err.cause as ExecFailure;
    expect(cause.stdout.length).toBeLessThanOrEqual(TAIL_BYTES);
    expect(cause.stderr.length).toBeLessThanOrEqual(TAIL_BYTES);
  });

  it("does not pass model-monitor's own MODEL_MONITOR_* variables (secrets) to the command", async () => {
    const out = path.join(dir, 'secret.txt');
    process.env.MODEL_MONITOR_FTP_PASSWORD = 'hunter2';
    try {
      await createExecTrigger({ command: `env > '${out}'`, timeoutMs: 10_000 }).fire(event, ctx());
    } finally {
      delete process.env.MODEL_MONITOR_FTP_PASSWORD;
    }
    const env = await fsp.readFile(out, 'utf8');
    expect(env).not.toMatch(/hunter2|MODEL_MONITOR_/);
    expect(env).toMatch(/^MODEL_VERSION=v3$/m);
  });
});
