/**
 * Writable remotes on real servers for publish's tests and bench: each starts
 * its server on 127.0.0.1 and says how the CLI reaches it (flags, env) and how
 * a test reads and writes it directly (a Source and a Writer on the same root).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { writerFor } from '../../src/publish/writers.js';
import type { Writer } from '../../src/publish/types.js';
import { buildRemote } from '../../src/remote.js';
import { sources } from '../../src/sources/index.js';
import type { Source } from '../../src/sources/types.js';
import { startFtpSrv, removeRoot, type FtpTestServer } from '../servers/ftp-srv.js';
import { startS3rver } from '../servers/s3rver.js';
import { startVsftpd, vsftpdMissing } from '../servers/vsftpd.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

/** s3rver's one key pair, through the standard AWS chain. */
export const S3_ENV: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
};

export interface Target {
  readonly name: string;
  /** `--remote URL` and the store's own flags. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Where the remote root is on disk (null for S3). */
  readonly disk: string | null;
  source(): Source;
  writer(): Writer;
  close(): Promise<void>;
}

const deps = { log: silentLogger(), timeoutMs: 20_000, concurrency: 4, retries: 2 };

function make(name: string, args: string[], env: Record<string, string>, disk: string | null, close: () => Promise<void>): Target {
  const raw: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i]!;
    if (!a.startsWith('--')) continue;
    const next = args[i + 1];
    raw[a.slice(2)] = next === undefined || next.startsWith('--') ? 'true' : next;
  }
  const flags = { ...raw, 'remote-model-name': 'm', 'remote-donefile-name': 'd' };
  const remote = () => buildRemote(flags, sources);
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  return {
    name,
    args,
    env,
    disk,
    source: () => {
      return remote().openSource(deps);
    },
    writer: () => {
      const r = remote();
      return writerFor(r.sourceKind)!.bind(r, flags)(deps);
    },
    close,
  };
}

export type TargetKind = 'file' | 'ftp-srv' | 'vsftpd' | 's3rver' | 'webhdfs';

/** Why `kind` cannot run here, or null. */
export function targetMissing(kind: TargetKind): string | null {
  return kind === 'vsftpd' ? vsftpdMissing() : null;
}

export async function startTarget(kind: TargetKind): Promise<Target> {
  switch (kind) {
    case 'file': {
      const root = await mkdtemp(path.join(tmpdir(), 'mm-pub-file-'));
      return make(kind, ['--remote', `file://${root}/models`], {}, path.join(root, 'models'), () => rm(root, { recursive: true, force: true }));
    }
    case 'ftp-srv':
    case 'vsftpd': {
      const srv: FtpTestServer = kind === 'vsftpd' ? await startVsftpd({ writable: true }) : await startFtpSrv();
      const dir = kind === 'vsftpd' ? 'pub' : 'models';
      return make(kind, ['--remote', `ftp://127.0.0.1:${srv.port}/${dir}`], {}, path.join(srv.root, dir), async () => {
        await srv.stop();
        await removeRoot(srv);
      });
    }
    case 's3rver': {
      const srv = await startS3rver('models');
      const args = ['--remote', 's3://models/root', '--s3-endpoint', srv.directEndpoint, '--s3-force-path-style', '--s3-region', 'us-east-1'];
      return make(kind, args, S3_ENV, null, () => srv.close());
    }
    case 'webhdfs': {
      const root = await mkdtemp(path.join(tmpdir(), 'mm-pub-hdfs-'));
      const srv = await WebHdfsTestServer.start({ root });
      return make(kind, ['--remote', `${srv.url}/models`, '--hdfs-user', 'alice'], {}, path.join(root, 'models'), async () => {
        await srv.close();
        await rm(root, { recursive: true, force: true });
      });
    }
  }
}
