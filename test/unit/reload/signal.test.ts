import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ReloadError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { createSignalTrigger, parsePid } from '../../../src/reload/signal.js';
import type { ReloadEvent } from '../../../src/reload/types.js';
import { waitFor } from '../../servers/ports.js';

const event: ReloadEvent = { modelDir: '/m', version: 'v2', previousVersion: 'v1', previousDir: null };
const ctx = () => ({ log: silentLogger(), signal: AbortSignal.timeout(30_000) });

/** A child that prints "HUP n" on each SIGHUP. */
function hupCounter(): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, ['-e', "let n=0;process.on('SIGHUP',()=>console.log('HUP '+(++n)));console.log('ready');setInterval(()=>{},1000)"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out };
}

let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(tmpdir(), 'mm-signal-'));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('--signal trigger', () => {
  it('reads the pidfile at fire time, every time', async () => {
    const a = hupCounter();
    const b = hupCounter();
    children.push(a.child, b.child);
    await waitFor(() => a.out().includes('ready') && b.out().includes('ready'), 'children ready');
    const pidfile = path.join(dir, 'engine.pid');
    await fsp.writeFile(pidfile, `${a.child.pid}\n`);
    const t = createSignalTrigger({ signal: 'SIGHUP', pidfile, pid: null });
    expect(t.name).toBe('signal SIGHUP');
    await t.fire(event, ctx());
    await waitFor(() => a.out().includes('HUP 1'), 'first HUP');
    await fsp.writeFile(pidfile, `${b.child.pid}`); // the engine restarted and rewrote its pidfile
    await t.fire(event, ctx());
    await waitFor(() => b.out().includes('HUP 1'), 'HUP to the new pid');
    expect(a.out()).not.toContain('HUP 2');
  });

  it('--pid N works without a pidfile', async () => {
    const a = hupCounter();
    children.push(a.child);
    await waitFor(() => a.out().includes('ready'), 'child ready');
    await createSignalTrigger({ signal: 'SIGHUP', pidfile: null, pid: a.child.pid! }).fire(event, ctx());
    await waitFor(() => a.out().includes('HUP 1'), 'HUP');
  });

  it('a pid with no process is ReloadError "no process N (from FILE)"', async () => {
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(gone, 'exit');
    const pidfile = path.join(dir, 'stale.pid');
    await fsp.writeFile(pidfile, String(gone.pid));
    const err = await createSignalTrigger({ signal: 'SIGHUP', pidfile, pid: null })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as Error).message).toBe(`no process ${gone.pid} (from ${pidfile})`);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ESRCH');
  });

  it('a missing or garbled pidfile is a ReloadError; 0 and negative pids are refused', async () => {
    const missing = createSignalTrigger({ signal: 'SIGHUP', pidfile: path.join(dir, 'none.pid'), pid: null });
    await expect(missing.fire(event, ctx())).rejects.toThrow(/cannot read pidfile/);
    for (const bad of ['', 'abc', '0', '-1', '12 13', '1.5']) expect(() => parsePid(bad, 'f'), bad).toThrow(ReloadError);
    expect(parsePid(' 4242\n', 'f')).toBe(4242);
  });

  it('an unknown signal name is a ConfigError naming --signal', () => {
    expect(() => createSignalTrigger({ signal: 'SIGNOPE', pidfile: null, pid: 1 })).toThrow(ConfigError);
    expect(() => createSignalTrigger({ signal: 'SIGNOPE', pidfile: null, pid: 1 })).toThrow(/--signal/);
  });
});
