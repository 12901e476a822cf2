/**
 * pyftpdlib's stand-alone server (`python3 -m pyftpdlib`), anonymous and
 * read-only over a temp dir. Debian's interpreter on purpose: the `python3`
 * first on PATH may be another one without the module.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './ports.js';
import { spawnDaemon, worldReadableTempDir, type FtpTestServer } from './ftp-srv.js';

const PYTHON = '/usr/bin/python3';

/** Why pyftpdlib cannot run here, or null when it can. */
export function pyftpdlibMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  const r = spawnSync(PYTHON, ['-c', 'import pyftpdlib'], { stdio: 'ignore', timeout: 20_000 });
  if (r.status !== 0) return `${PYTHON} has no pyftpdlib (apt-get install python3-pyftpdlib, or run .ci/install-ftp-servers.sh)`;
  return null;
}

export async function startPyftpdlib(): Promise<FtpTestServer> {
  const root = await worldReadableTempDir('mm-pyftpdlib-');
  const port = await freePort();
  const args = ['-m', 'pyftpdlib', '-i', '127.0.0.1', '-p', String(port), '-d', root, '-n', '127.0.0.1'];
  const daemon = await spawnDaemon('pyftpdlib', PYTHON, args, port);
  return { root, port, stop: () => daemon.stop() };
}
