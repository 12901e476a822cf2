/**
 * In-process `ftp-srv` on 127.0.0.1 over a temp dir (fast; supports fault
 * injection), plus the kit every FTP server helper shares: the handle type, a
 * daemon spawner with a readiness probe, and the conformance harness that
 * writes straight into a server's root dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ReadStream } from 'node:fs';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ftp } from '../../src/sources/ftp.js';
import type { RemoteEntry, Source } from '../../src/sources/types.js';
import type { WireEngine } from '../../src/wire/engine.js';
import type { SourceHarness } from '../conformance/source.suite.js';
import type { DownloadHarness } from '../conformance/download-extra.suite.js';
import { writeLargeFile } from '../helpers/large.js';
import { freePort, waitFor } from './ports.js';
import { sourceWith } from '../helpers/source.js';

/** A running FTP server whose `/` is `root` on disk. */
export interface FtpTestServer {
  readonly root: string;
  readonly port: number;
  /** Login for the source URL; absent = anonymous. */
  readonly user?: string;
  readonly password?: string;
  stop(): Promise<void>;
}

/** A temp dir every user can read (daemons serve it as `ftp` / `nobody`). */
export async function worldReadableTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

async function mkdirs(root: string, rel: string): Promise<void> {
  let cur = root;
  for (const seg of rel.split('/').filter((s) => s !== '')) {
    cur = path.join(cur, seg);
    await mkdir(cur, { recursive: true });
    await chmod(cur, 0o755);
  }
}

const MODEL_DIR = 'models';

/** The suite's large-file size: MM_FTP_LARGE_BYTES (e.g. 1073741824 for the 1 GiB check), else its default. */
export function largeBytes(): number | undefined {
  const n = Number(process.env.MM_FTP_LARGE_BYTES);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface SourceFor {
  readonly raw?: Record<string, string>;
  readonly scheme?: 'ftp' | 'ftps';
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Override the URL's login (`null` = anonymous even when the server has a user). */
  readonly login?: { readonly user: string; readonly password: string } | null;
  /** The wire engine (download()); absent = the stock data path only. */
  readonly wire?: WireEngine;
}

/** The FTP source over `srv`, rooted at `/models`. */
export function ftpSourceFor(srv: FtpTestServer, o: SourceFor = {}): Source {
  const login = o.login === undefined ? (srv.user ? { user: srv.user, password: srv.password ?? '' } : null) : o.login;
  const auth = login ? `${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@` : '';
  const url = new URL(`${o.scheme ?? 'ftp'}://${auth}127.0.0.1:${srv.port}/${MODEL_DIR}`);
  const deps = { log: silentLogger(), timeoutMs: o.timeoutMs ?? 20_000, concurrency: o.concurrency ?? 3, ...(o.wire ? { wire: o.wire } : {}) };
  return sourceWith(ftp, url, o.raw ?? {}, deps);
}

/** The conformance harness: put()/remove() write straight into `<root>/models` on disk. */
export async function ftpHarness(srv: FtpTestServer, extra: Partial<SourceHarness> = {}): Promise<SourceHarness> {
  const deadPort = await freePort();
  const base = path.join(srv.root, MODEL_DIR);
  const prepare = async (p: string) => {
    await mkdirs(srv.root, path.posix.join(MODEL_DIR, path.posix.dirname(p)));
    return path.join(base, p);
  };
  return {
    async put(p, data) {
      const file = await prepare(p);
      await writeFile(file, data);
      await chmod(file, 0o644);
    },
    async putLarge(p, size) {
      const file = await prepare(p);
      const md5 = await writeLargeFile(file, size);
      await chmod(file, 0o644);
      return md5;
    },
    async remove(p) {
      await rm(path.join(base, p), { force: true });
    },
    source: () => ftpSourceFor(srv),
    wireSource: (wire) => ftpSourceFor(srv, { wire }),
    unreachable: () => ftpSourceFor({ root: srv.root, port: deadPort, stop: async () => {} }),
    async close() {
      await srv.stop();
      await removeRoot(srv);
    },
    ...extra,
  };
}

/** The download suite's harness: ftpHarness() plus sources whose download() runs on a wire engine. */
export async function ftpDownloadHarness(srv: FtpTestServer, extra: Partial<SourceHarness> = {}): Promise<DownloadHarness> {
  return { ...(await ftpHarness(srv, extra)), wired: (wire, concurrency) => ftpSourceFor(srv, { wire, ...(concurrency ? { concurrency } : {}) }) };
}

/**
 * What the conformance suite leaves to each server: directory vs file in stat,
 * whole-second mtimes, symlinks in listings, and mtimes in listings only where
 * the server has MLSD (`mlsd`).
 */
export function runFtpServerChecks(name: string, start: () => Promise<FtpTestServer>, o: { mlsd: boolean }): void {
  describe(`ftp source on ${name}: stat and listing details`, () => {
    let srv: FtpTestServer;
    let src: Source;
    const io = () => ({ signal: AbortSignal.timeout(30_000) });
    beforeAll(async () => {
      srv = await start();
      src = ftpSourceFor(srv);
      const h = await ftpHarness(srv);
      await h.put('x/real/a.txt', 'aaa');
      const real = path.join(srv.root, MODEL_DIR, 'x', 'real');
      await utimes(path.join(real, 'a.txt'), 1_700_000_000, 1_700_000_000.678);
      await symlink('real/a.txt', path.join(real, '..', 'link-file'));
      await symlink('real', path.join(real, '..', 'link-dir'));
      await symlink('nowhere', path.join(real, '..', 'dangling'));
    });
    afterAll(async () => {
      await src?.close();
      await srv?.stop();
      if (srv) await removeRoot(srv);
    });

    it('stat tells a directory from a file; file mtimes are whole seconds', async () => {
      expect((await src.stat('x/real', io()))?.isDirectory).toBe(true);
      expect((await src.stat('', io()))?.isDirectory).toBe(true);
      const f = await src.stat('x/real/a.txt', io());
      expect(f).toMatchObject({ path: 'x/real/a.txt', size: 3, isDirectory: false });
      expect(Math.floor(f!.mtimeMs! / 1000)).toBe(1_700_000_000);
    });

    it('list follows symlinks to files and directories and skips dangling ones', async () => {
      const got: RemoteEntry[] = [];
      for await (const e of src.list('x', io())) got.push(e);
      got.sort((a, b) => (a.path < b.path ? -1 : 1));
      expect(got.map((e) => [e.path, e.size])).toEqual([
        ['link-dir/a.txt', 3],
        ['link-file', 3],
        ['real/a.txt', 3],
      ]);
      const listed = got.find((e) => e.path === 'real/a.txt')!;
      if (o.mlsd) expect(Math.floor(listed.mtimeMs! / 1000)).toBe(1_700_000_000);
      else expect(listed.mtimeMs).toBeUndefined();
    });
  });
}

/** True once something on `port` greets like an FTP server (`220 `). */
export function ftpGreets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let text = '';
    const s: Socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(3000, () => done(false));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (/^220 /m.test(text)) done(true);
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

/**
 * Spawns a daemon in its own process group, waits until `port` greets, and
 * returns a stop() that kills the whole group (vsftpd forks per session).
 */
export async function spawnDaemon(name: string, cmd: string, args: readonly string[], port: number) {
  const child: ChildProcess = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = once(child, 'exit').catch(() => undefined);
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited early (${child.exitCode ?? child.signalCode}): ${stderr}`);
      }
      return ftpGreets(port);
    },
    `${name} on 127.0.0.1:${port}`,
    30_000,
  );
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  return {
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      kill('SIGKILL'); // stray session children
    },
  };
}

// ---- the in-process ftp-srv ----

export interface FtpSrvOptions {
  /** Reuse a root dir (a restart); default a new temp dir. */
  readonly root?: string;
  /** Default: any free port. */
  readonly port?: number;
  /** Require this login; default anonymous only. */
  readonly user?: string;
  readonly password?: string;
  /** Explicit FTPS (AUTH TLS) with this key and certificate (PEM). */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export interface FtpSrvHandle extends FtpTestServer {
  /** The next RETR of `p` (under /models) drops the control and data connection after `afterBytes`. */
  dropNextDownload(p: string, afterBytes: number): void;
  /** The next RETR of `p` sends only `bytes` bytes, then "226 Transfer complete" as if that were all. */
  truncateNextDownload(p: string, bytes: number): void;
  /** Logins the server accepted or refused (for "not retried" checks). */
  readonly logins: () => number;
  /** Most control connections open at once so far. */
  readonly peakConnections: () => number;
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child: () => quiet };

type Faults = Map<string, { readonly kind: 'drop' | 'truncate'; readonly bytes: number }>;

interface Sockets {
  commandSocket?: Socket;
  connector?: { socket?: Socket };
}

/** ftp-srv's own file system, with a one-shot "cut this download after N bytes" switch. */
class FaultyFileSystem extends FileSystem {
  constructor(
    connection: FtpConnection,
    root: string,
    private readonly faults: Faults,
  ) {
    super(connection, { root, cwd: '/' });
  }

  override async read(fileName: string, o?: { start?: number }): Promise<{ stream: ReadStream }> {
    const r = (await super.read(fileName, o)) as { stream: ReadStream };
    const file = String(r.stream.path);
    const fault = this.faults.get(file);
    if (fault === undefined) return r;
    this.faults.delete(file);
    if (fault.kind === 'truncate') {
      r.stream.destroy();
      const start = o?.start ?? 0;
      return { ...r, stream: createReadStream(file, { start, end: start + fault.bytes - 1 }) };
    }
    let sent = 0;
    r.stream.on('data', (chunk: string | Buffer) => {
      sent += chunk.length;
      if (sent < fault.bytes) return;
      const c = this.connection as unknown as Sockets;
      c.connector?.socket?.destroy();
      c.commandSocket?.destroy();
      r.stream.destroy();
    });
    return r;
  }
}

const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

/**
 * ftp-srv on 127.0.0.1, passive ports from a random range. Its constructor adds
 * SIGTERM/SIGINT/SIGQUIT handlers that exit the process: removed again, the
 * test runner keeps its own.
 */
function newFtpSrv(port: number, o: FtpSrvOptions): FtpSrv {
  const before = new Map(EXIT_SIGNALS.map((sig) => [sig, new Set(process.listeners(sig))]));
  const pasvMin = 20_000 + Math.floor(Math.random() * 40_000);
  const server = new FtpSrv({
    url: `ftp://127.0.0.1:${port}`,
    pasv_url: '127.0.0.1',
    pasv_min: pasvMin,
    pasv_max: pasvMin + 500,
    anonymous: o.user === undefined,
    log: quiet,
    ...(o.tls ? { tls: { key: o.tls.key, cert: o.tls.cert } } : {}),
  });
  for (const sig of EXIT_SIGNALS) {
    for (const l of process.listeners(sig)) if (!before.get(sig)?.has(l)) process.removeListener(sig, l);
  }
  return server;
}

/** Starts ftp-srv over `root` (default a new temp dir): anonymous, or only `user` / `password`. */
export async function startFtpSrv(o: FtpSrvOptions = {}): Promise<FtpSrvHandle> {
  const root = o.root ?? (await worldReadableTempDir('mm-ftpsrv-'));
  const port = o.port ?? (await freePort());
  const faults: Faults = new Map();
  let logins = 0;
  let open = 0;
  let peak = 0;
  const server = newFtpSrv(port, o);
  server.on('login', ({ connection, username, password }, resolve, reject) => {
    logins++;
    const ok = o.user === undefined ? username === 'anonymous' : username === o.user && password === o.password;
    if (!ok) return reject(new Error('Login incorrect'));
    return resolve({ fs: new FaultyFileSystem(connection, root, faults) });
  });
  (server as EventEmitter).on('connect', () => (peak = Math.max(peak, ++open)));
  server.on('disconnect', () => open--);
  await server.listen();
  return {
    root,
    port,
    ...(o.user !== undefined ? { user: o.user, password: o.password ?? '' } : {}),
    logins: () => logins,
    peakConnections: () => peak,
    dropNextDownload(p, afterBytes) {
      faults.set(path.join(root, MODEL_DIR, p), { kind: 'drop', bytes: afterBytes });
    },
    truncateNextDownload(p, bytes) {
      faults.set(path.join(root, MODEL_DIR, p), { kind: 'truncate', bytes });
    },
    async stop() {
      await server.close();
    },
  };
}

/** Removes a server's root dir (stop() leaves it, so a restart can reuse it). */
export async function removeRoot(srv: FtpTestServer): Promise<void> {
  await rm(srv.root, { recursive: true, force: true });
}
