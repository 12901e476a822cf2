/** Debian's tinyproxy on 127.0.0.1 (a real forward proxy): its log tells which requests went through it. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { freePort, waitFor } from './ports.js';

export const TINYPROXY = '/usr/bin/tinyproxy';

export function tinyproxyMissing(): string | null {
  return existsSync(TINYPROXY) ? null : `${TINYPROXY} is not installed (apt-get install tinyproxy)`;
}

export interface Tinyproxy {
  readonly url: string;
  /** Request lines tinyproxy logged (`GET http://127.0.0.1:…/path`). */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startTinyproxy(): Promise<Tinyproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-tinyproxy-'));
  const port = await freePort();
  const log = path.join(dir, 'tinyproxy.log');
  const conf = path.join(dir, 'tinyproxy.conf');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 120',
      `LogFile "${log}"`,
      'LogLevel Info',
      'MaxClients 100',
      'Allow 127.0.0.1',
      'DisableViaHeader Yes',
      'ConnectPort 443',
      '',
    ].join('\n'),
  );
  const child = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: 'ignore' });
  const up = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  await waitFor(up, 'tinyproxy listening', 15_000);
  return {
    url: `http://127.0.0.1:${port}`,
    async requests() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return [...text.matchAll(/Request \(file descriptor \d+\): (\S+ \S+)/g)].map((m) => m[1]!);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
