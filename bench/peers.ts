/**
 * The bench's table: one entry per protocol. Each starts its real server on
 * 127.0.0.1 over the bench model and says how model-monitor reaches it and
 * which peer tools a user would otherwise script, as argv arrays. A protocol
 * whose server or source is missing is skipped with the reason printed.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { worldReadableTempDir } from '../test/servers/ftp-srv.js';
import { nginxUnavailable, startNginx } from '../test/servers/nginx.js';
import { pureFtpdMissing, startPureFtpd } from '../test/servers/pureftpd.js';
import { startS3rver } from '../test/servers/s3rver.js';
import { startVsftpd, vsftpdMissing } from '../test/servers/vsftpd.js';
import { WebHdfsTestServer } from '../test/servers/webhdfs.js';
import { linkModels, uploadToS3, type Dataset } from './data.js';
import { runOrThrow, type Cmd } from './proc.js';

/** A peer tool's command that copies the model dir's files into `dest` (a dir that does not exist yet). */
export interface Peer {
  readonly tool: string;
  /** Shown in the table: the essential flags. */
  readonly label: string;
  /** Executables that must be on PATH. */
  readonly needs: readonly string[];
  cmd(dest: string): Cmd;
}

/** A running server with the bench model on it. */
export interface Target {
  /** model-monitor's --remote and source flags; the model is `model`, the donefile `donefile`. */
  readonly mmArgs: readonly string[];
  readonly mmEnv?: Readonly<Record<string, string>>;
  readonly peers: readonly Peer[];
  /** Where the served root is on disk, for the incremental step (null: not writable in place). */
  readonly diskRoot: string | null;
  stop(): Promise<void>;
}

export interface Protocol {
  readonly name: string;
  /** A --remote of this scheme, to ask the CLI whether a source is registered for it. */
  readonly probeUrl: string;
  /** Why its server cannot run here, or null. */
  missing(): Promise<string | null>;
  start(data: Dataset): Promise<Target>;
}

const bash = (script: string, ...args: string[]): Cmd => ({ file: 'bash', args: ['-c', `set -euo pipefail\n${script}`, 'bash', ...args] });

/** Static keys s3rver accepts; AWS_CA_BUNDLE emptied (rclone 1.60 refuses to start with one set). */
const S3_ENV = {
  AWS_CA_BUNDLE: '',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
};

function lftp(port: number, login: string): Peer {
  return {
    tool: 'lftp',
    label: 'lftp mirror -P 8',
    needs: ['lftp'],
    cmd: (dest) => ({
      file: 'lftp',
      args: [
        '-c',
        `set cmd:fail-exit yes; set net:max-retries 2; set net:timeout 30; open -u ${login} -p ${port} 127.0.0.1; mirror -P 8 /models/model ${dest}`,
      ],
    }),
  };
}

/** `extra`: pure-ftpd needs --multi-thread-streams 0 (rclone 1.60's ranged reads fail there on "150 … measured here"). */
function rcloneFtp(port: number, user: string, password: string, extra: readonly string[]): Peer {
  return {
    tool: 'rclone',
    label: ['rclone copy --transfers 8', ...extra].join(' '),
    needs: ['rclone'],
    cmd: (dest) => {
      const obscured = runOrThrow('rclone', ['obscure', password]).trim();
      const flags = ['--ftp-host', '127.0.0.1', '--ftp-port', String(port), '--ftp-user', user, '--ftp-pass', obscured];
      return { file: 'rclone', args: ['copy', ':ftp:/models/model', dest, ...flags, '--transfers', '8', '--checkers', '8', ...extra, '-q'] };
    },
  };
}

type FtpServer = { root: string; port: number; user?: string; password?: string; stop(): Promise<void> };

async function ftpTarget(data: Dataset, srv: FtpServer, rcloneExtra: readonly string[] = []): Promise<Target> {
  linkModels(data, srv.root);
  const user = srv.user ?? 'anonymous';
  const password = srv.password ?? 'anonymous@';
  const auth = srv.user ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}@` : '';
  const quoted = `'${user},${password}'`;
  return {
    mmArgs: ['--remote', `ftp://${auth}127.0.0.1:${srv.port}/models`],
    peers: [lftp(srv.port, quoted), rcloneFtp(srv.port, user, password, rcloneExtra)],
    diskRoot: srv.root,
    async stop() {
      await srv.stop();
      await rm(srv.root, { recursive: true, force: true });
    },
  };
}

/**
 * curl's best: one process, 8 transfers at once (`-Z --parallel-max 8`), fed a
 * config of url/output pairs made from the listing (names are plain here).
 * A `xargs -P 8 curl` loop costs a process per file: about 3 s more on 2 cores.
 */
function curlParallel(label: string, base: string, list: string, urlSuffix: string): Peer {
  const toConfig = `sed 's|.*|url = "'"$2"'/&${urlSuffix}"\\noutput = "'"$1"'/&"|'`;
  return {
    tool: 'curl',
    label,
    needs: ['curl'],
    cmd: (dest) => bash(`mkdir -p "$1"; ${list} | ${toConfig} | curl -sSfL -Z --parallel-max 8 -K -`, dest, base),
  };
}

const curlHttp = (base: string): Peer =>
  curlParallel('autoindex | curl -Z --parallel-max 8', `${base}/models/model`, `curl -sSf "$2/" | grep -o 'href="[^"?/]*"' | cut -d'"' -f2`, '');

export const protocols: readonly Protocol[] = [
  {
    name: 'FTP (vsftpd)',
    probeUrl: 'ftp://127.0.0.1/models',
    missing: async () => vsftpdMissing(),
    start: async (data) => ftpTarget(data, await startVsftpd()),
  },
  {
    name: 'FTP (pure-ftpd)',
    probeUrl: 'ftp://127.0.0.1/models',
    missing: async () => pureFtpdMissing(),
    start: async (data) => ftpTarget(data, await startPureFtpd(), ['--multi-thread-streams', '0']),
  },
  {
    name: 'S3 (s3rver)',
    probeUrl: 's3://models/models',
    missing: async () => null,
    async start(data) {
      const srv = await startS3rver('models');
      await uploadToS3(srv.directEndpoint, srv.bucket, data);
      const ep = srv.directEndpoint;
      const rcloneFlags = [
        '--s3-provider',
        'Other',
        '--s3-endpoint',
        ep,
        '--s3-access-key-id',
        'S3RVER',
        '--s3-secret-access-key',
        'S3RVER',
        '--s3-region',
        'us-east-1',
      ];
      return {
        mmArgs: ['--remote', 's3://models/models', '--s3-endpoint', ep, '--s3-force-path-style', '--s3-region', 'us-east-1'],
        mmEnv: S3_ENV,
        peers: [
          {
            tool: 'rclone',
            label: 'rclone copy --transfers 8',
            needs: ['rclone'],
            cmd: (dest) => ({
              file: 'rclone',
              args: ['copy', ':s3:models/models/model', dest, ...rcloneFlags, '--transfers', '8', '--checkers', '8', '-q'],
              env: S3_ENV,
            }),
          },
          {
            tool: 'aws',
            label: 'aws s3 sync (default 10 requests)',
            needs: ['aws'],
            cmd: (dest) => ({
              file: 'aws',
              args: ['s3', 'sync', 's3://models/models/model', dest, '--endpoint-url', ep, '--only-show-errors', '--no-progress'],
              env: S3_ENV,
            }),
          },
        ],
        diskRoot: null,
        stop: () => srv.close(),
      };
    },
  },
  {
    name: 'WebHDFS (test server)',
    probeUrl: 'webhdfs://127.0.0.1:9870/models',
    missing: async () => null,
    async start(data) {
      const srv = await WebHdfsTestServer.start({ root: data.root });
      const base = `http://127.0.0.1:${srv.nnPort}/webhdfs/v1/models/model`;
      const list = `curl -sSf "$2?op=LISTSTATUS" | grep -o '"pathSuffix":"[^"]*"' | cut -d'"' -f4`;
      return {
        mmArgs: ['--remote', `${srv.url}/models`],
        peers: [curlParallel('LISTSTATUS | curl -L -Z --parallel-max 8', base, list, '?op=OPEN')],
        diskRoot: null,
        stop: () => srv.close(),
      };
    },
  },
  {
    name: 'HTTP (nginx autoindex)',
    probeUrl: 'http://127.0.0.1/models',
    missing: () => nginxUnavailable(),
    async start(data) {
      const root = await worldReadableTempDir('mm-bench-nginx-');
      linkModels(data, root);
      const srv = await startNginx(root);
      return {
        mmArgs: ['--remote', `${srv.url}/models`],
        peers: [
          {
            tool: 'rclone',
            label: 'rclone copy --transfers 8',
            needs: ['rclone'],
            cmd: (dest) => ({
              file: 'rclone',
              args: ['copy', ':http:', dest, '--http-url', `${srv.url}/models/model/`, '--transfers', '8', '--checkers', '8', '-q'],
            }),
          },
          curlHttp(srv.url),
        ],
        diskRoot: root,
        async stop() {
          await srv.close();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'local dir (disk limit)',
    probeUrl: 'file:///models',
    missing: async () => null,
    async start(data) {
      return {
        mmArgs: ['--remote', `file://${path.join(data.root, 'models')}`],
        peers: [{ tool: 'cp', label: 'cp -r', needs: ['cp'], cmd: (dest) => ({ file: 'cp', args: ['-r', path.join(data.root, 'models', 'model'), dest] }) }],
        diskRoot: null,
        stop: async () => {},
      };
    },
  },
];
