/**
 * `model-monitor demo` (`npm run demo`): an embedded FTP server (ftp-srv) over
 * a temp dir, a producer that publishes a new model + donefile every few
 * seconds, and `watch` pulling each one into a local served path — printing
 * every hot swap. Ctrl-C stops all of it; the temp dir is removed.
 * MODEL_MONITOR_DEMO_SWAPS=N stops after N swaps (used by its test).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { allOptions, buildConfig, resolveRaw } from './config.js';
import { runWatch } from './monitor-run.js';

interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const MODEL = 'uci_housing_model';
/** The producer's period: the banner says this number, and the swaps follow it. */
const PUBLISH_EVERY_S = 4;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** ftp-srv is a devDependency: the demo runs from a clone (`npm install && npm run demo`). */
async function startFtp(root: string): Promise<{ port: number; close(): Promise<void> }> {
  let FtpSrv: new (o: object) => { on(e: string, f: (...a: never[]) => void): void; listen(): Promise<unknown>; close(): Promise<unknown> };
  try {
    ({ FtpSrv } = (await import('ftp-srv' as string)) as { FtpSrv: typeof FtpSrv });
  } catch {
    throw new Error('the demo needs the ftp-srv dev dependency: run it from a clone with `npm install && npm run demo`');
  }
  const port = await freePort();
  const quiet = { child: () => quiet, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
  // ftp-srv's constructor installs SIGINT/SIGTERM handlers that call process.exit(): take them back off.
  const signals = ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const;
  const before = new Map(signals.map((sig) => [sig, new Set(process.listeners(sig))]));
  const srv = new FtpSrv({ url: `ftp://127.0.0.1:${port}`, pasv_url: '127.0.0.1', anonymous: true, greeting: 'model-monitor demo', log: quiet });
  for (const sig of signals) for (const l of process.listeners(sig)) if (!before.get(sig)!.has(l)) process.removeListener(sig, l);
  srv.on('login', (_d: never, resolve: (o: { root: string }) => void) => resolve({ root }));
  await srv.listen();
  return { port, close: async () => void (await srv.close()) };
}

/**
 * Writes model version n the way a training job should: model first (renamed
 * in whole), donefile last, stamped `at` (unix seconds: the version label
 * model-monitor shows is this time).
 */
async function publish(remote: string, n: number, at: number): Promise<void> {
  const tmp = path.join(remote, `.${MODEL}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(path.join(tmp, 'params'), { recursive: true });
  await writeFile(path.join(tmp, '__model__'), `demo model, version ${n}\n`);
  await writeFile(path.join(tmp, 'params', 'fc_0.w_0'), randomBytes(256 * 1024));
  await writeFile(path.join(tmp, 'params', 'fc_0.b_0'), randomBytes(1024));
  await rm(path.join(remote, MODEL), { recursive: true, force: true });
  await rename(tmp, path.join(remote, MODEL));
  const done = path.join(remote, 'donefile');
  await writeFile(done, `${n}\n`);
  await utimes(done, at, at);
}

/** Donefile times: now, in whole seconds, and always later than the last one (never ahead of the clock by more than that). */
function stamps(): () => number {
  let last = 0;
  return () => (last = Math.max(Math.floor(Date.now() / 1000), last + 1));
}

/** The command a user would type for the same thing against their own server, in Paddle's spelling. */
function equivalentCommand(raw: Readonly<Record<string, string>>): string {
  const flags = Object.entries(raw).map(([k, v]) => `--${k === 'ftp-host' ? 'ftp_ip' : k.replace(/-/g, '_')}=${v}`);
  return `model-monitor watch ${flags.join(' ')}`;
}

export async function runDemo(io: Io): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'model-monitor-demo-'));
  const remote = path.join(dir, 'remote_path');
  const local = path.join(dir, 'local_path');
  await mkdir(remote, { recursive: true });
  await mkdir(local, { recursive: true });
  const ftp = await startFtp(remote);
  const stopAfter = Number(io.env['MODEL_MONITOR_DEMO_SWAPS'] ?? 0);
  const ac = new AbortController();
  // `on`, not `once`: Ctrl-C under `npm run demo` delivers SIGINT twice (the terminal's, and npm's
  // forwarded copy), and a second one with no handler left would kill the demo mid-cleanup (exit 130).
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  let n = 0;
  const stamp = stamps();
  await publish(remote, ++n, stamp());
  const producer = setInterval(() => void publish(remote, ++n, stamp()).catch(() => {}), PUBLISH_EVERY_S * 1000);
  const shown = {
    type: 'ftp',
    'ftp-host': '127.0.0.1',
    'ftp-port': String(ftp.port),
    'remote-path': '/',
    'remote-model-name': MODEL,
    'remote-donefile-name': 'donefile',
    'local-model-name': MODEL,
    interval: '1',
  };
  const raw = resolveRaw({ ...shown, 'local-path': local, 'log-level': 'warn', progress: 'false' }, {}, allOptions());
  const config = buildConfig('watch', raw);
  io.out(
    `model-monitor demo\n  FTP server  ftp://127.0.0.1:${ftp.port}/ over ${remote}\n  served at   ${config.servedPath}\n` +
      `  a new model every ${PUBLISH_EVERY_S} s; Ctrl-C to stop\n\n` +
      `  the same against your own server (or this one, while the demo runs):\n    ${equivalentCommand({ ...shown, 'local-path': './models' })}\n\n`,
  );
  let swaps = 0;
  try {
    await runWatch(config, {
      shutdown: ac.signal,
      onOutcome: (o) => {
        if (o.kind !== 'updated') return;
        swaps++;
        void readFile(path.join(config.servedPath, '__model__'), 'utf8').then((content) => {
          io.out(`hot swap #${swaps}: now serving ${o.version} (${o.files} files, ${o.bytes} bytes; ${content.trim()})\n`);
          if (stopAfter && swaps >= stopAfter) ac.abort();
        });
      },
    });
  } finally {
    clearInterval(producer);
    await ftp.close();
    await rm(dir, { recursive: true, force: true });
    io.out(`\nstopped after ${swaps} hot swap(s); temp dir removed\n`);
    // Only now: npm's forwarded SIGINT may arrive while the cleanup above runs.
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  return 0;
}
