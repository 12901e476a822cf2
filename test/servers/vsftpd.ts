/**
 * Debian's vsftpd on 127.0.0.1, anonymous over a temp dir: read-only, or with
 * `writable` an upload dir `pub/` where the anonymous user may STOR, MKD,
 * RNFR/RNTO, DELE and RMD (publish's tests). It runs
 * as root (chroot, privilege separation), so the tests need root; the anonymous
 * session runs as the system user `ftp`, which the Debian package creates.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports.js';
import { spawnDaemon, worldReadableTempDir, type FtpTestServer } from './ftp-srv.js';

const BIN = '/usr/sbin/vsftpd';

/** Why vsftpd cannot run here, or null when it can. */
export function vsftpdMissing(): string | null {
  if (!existsSync(BIN)) return `${BIN} is not installed (run .ci/install-ftp-servers.sh as root)`;
  if (process.getuid?.() !== 0) return 'vsftpd needs root (chroot of the anonymous session)';
  if (!/^ftp:/m.test(readFileSync('/etc/passwd', 'utf8'))) return 'system user "ftp" is missing (reinstall vsftpd)';
  return null;
}

/**
 * The settings that matter when it is not the system's daemon: listen=YES with
 * background=NO (stays our child), no seccomp sandbox and no network/pid
 * namespaces (containers refuse them), passive replies that name 127.0.0.1, and
 * a secure_chroot_dir of our own. Passive ports: any (0), so parallel servers never clash.
 */
function config(root: string, empty: string, port: number, writable: boolean): string {
  return `${[
    'listen=YES',
    'listen_ipv6=NO',
    'listen_address=127.0.0.1',
    `listen_port=${port}`,
    'background=NO',
    'anonymous_enable=YES',
    'no_anon_password=YES',
    `anon_root=${root}`,
    'local_enable=NO',
    ...(writable
      ? ['write_enable=YES', 'anon_upload_enable=YES', 'anon_mkdir_write_enable=YES', 'anon_other_write_enable=YES', 'anon_umask=022']
      : ['write_enable=NO']),
    `secure_chroot_dir=${empty}`,
    'pasv_enable=YES',
    'pasv_address=127.0.0.1',
    'pasv_min_port=0',
    'pasv_max_port=0',
    'seccomp_sandbox=NO',
    'isolate=NO',
    'isolate_network=NO',
    'xferlog_enable=NO',
    'syslog_enable=NO',
    'utf8_filesystem=YES',
    'max_per_ip=0',
    'max_clients=0',
  ].join('\n')}\n`;
}

/** The anonymous session's user (uid, gid): owner of the writable dir. */
function ftpUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ftp:'));
  const [, , uid, gid] = (line ?? '').split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** `writable`: anonymous may write under `<root>/pub` (vsftpd refuses a writable anonymous root itself). */
export async function startVsftpd(o: { writable?: boolean } = {}): Promise<FtpTestServer> {
  const root = await worldReadableTempDir('mm-vsftpd-');
  if (o.writable) {
    await mkdir(path.join(root, 'pub'), { mode: 0o755 });
    const { uid, gid } = ftpUser();
    await chown(path.join(root, 'pub'), uid, gid);
  }
  const etc = await worldReadableTempDir('mm-vsftpd-etc-');
  const empty = path.join(etc, 'empty');
  await mkdir(empty, { mode: 0o755 });
  const port = await freePort();
  const conf = path.join(etc, 'vsftpd.conf');
  await writeFile(conf, config(root, empty, port, o.writable === true), { mode: 0o600 });
  const daemon = await spawnDaemon('vsftpd', BIN, [conf], port);
  return {
    root,
    port,
    async stop() {
      await daemon.stop();
      await rm(etc, { recursive: true, force: true });
    },
  };
}
