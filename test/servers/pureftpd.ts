/**
 * pure-ftpd on 127.0.0.1 over a temp dir. Its anonymous root is the home of the
 * system user `ftp`, so instead of moving that home the server gets one
 * virtual user in a PureDB file (-l puredb:), chrooted to the temp dir (home
 * ends in `/./`) and mapped to uid/gid 65534 (nobody). The password hash is
 * SHA-512 crypt: pure-pw's own default (argon2id) costs about a second per login.
 * The binary comes from /opt/pure-ftpd (unpacked next to vsftpd, which conflicts
 * with the package) or a regular install.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports.js';
import { spawnDaemon, worldReadableTempDir, type FtpTestServer } from './ftp-srv.js';

const PREFIXES = ['/opt/pure-ftpd/usr', '/usr'];
const USER = 'mm';
const PASSWORD = 'mm pass w0rd';

function find(rel: string): string | undefined {
  return PREFIXES.map((p) => path.join(p, rel)).find((f) => existsSync(f));
}

/** Why pure-ftpd cannot run here, or null when it can. */
export function pureFtpdMissing(): string | null {
  if (!find('sbin/pure-ftpd') || !find('bin/pure-pw')) {
    return 'pure-ftpd is not installed in /opt/pure-ftpd or /usr (run .ci/install-ftp-servers.sh as root)';
  }
  if (process.getuid?.() !== 0) return 'pure-ftpd needs root (chroot, setuid to the virtual user)';
  return null;
}

function sha512crypt(password: string): string {
  return execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: password, encoding: 'utf8' }).trim();
}

export async function startPureFtpd(): Promise<FtpTestServer> {
  const root = await worldReadableTempDir('mm-pureftpd-');
  const etc = await worldReadableTempDir('mm-pureftpd-etc-');
  const passwd = path.join(etc, 'pureftpd.passwd');
  const pdb = path.join(etc, 'pureftpd.pdb');
  await writeFile(passwd, `${USER}:${sha512crypt(PASSWORD)}:65534:65534::${root}/./::::::::::::\n`, { mode: 0o600 });
  execFileSync(find('bin/pure-pw')!, ['mkdb', pdb, '-f', passwd]);
  const port = await freePort();
  const args = [
    `--bind=127.0.0.1,${port}`,
    `--login=puredb:${pdb}`,
    '--noanonymous',
    '--chrooteveryone',
    '--minuid=1', // 65534 passes anyway; root (0) stays refused
    '--forcepassiveip=127.0.0.1',
    '--dontresolve',
    '--syslogfacility=none',
    '--maxclientsperip=50',
    '--maxclientsnumber=50',
  ];
  const daemon = await spawnDaemon('pure-ftpd', find('sbin/pure-ftpd')!, args, port);
  return {
    root,
    port,
    user: USER,
    password: PASSWORD,
    async stop() {
      await daemon.stop();
      await rm(etc, { recursive: true, force: true });
    },
  };
}
