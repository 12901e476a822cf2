import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, MonitorError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { remoteOp } from '../../src/retry.js';
import { ftp } from '../../src/sources/ftp.js';
import { digest, runSourceSuite } from '../conformance/source.suite.js';
import { ftpHarness, ftpSourceFor, largeBytes, removeRoot, runFtpServerChecks, startFtpSrv } from '../servers/ftp-srv.js';
import type { FtpSrvHandle } from '../servers/ftp-srv.js';
import { freePort } from '../servers/ports.js';
import { sourceWith } from '../helpers/source.js';

const signal = () => AbortSignal.timeout(30_000);
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

runSourceSuite(
  'ftp (ftp-srv)',
  async () => {
    const srv = await startFtpSrv();
    return ftpHarness(srv, { dropNextDownload: (p, n) => srv.dropNextDownload(p, n) });
  },
  { largeBytes: largeBytes() },
);
// ftp-srv lists with its own `ls` format (no MLSD); its LIST shows what symlinks point at.
runFtpServerChecks('ftp-srv', () => startFtpSrv(), { mlsd: false });

/** Every message in the cause chain, for "never shows the password". */
function chain(err: unknown): string {
  const out: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) out.push(`${e.name}: ${e.message} ${e.stack ?? ''}`);
  return out.join('\n');
}

describe('ftp source against ftp-srv: login, reconnect, pool, abort', () => {
  const PASSWORD = 's3cret pass';
  let srv: FtpSrvHandle;
  let put: (p: string, data: Buffer | string) => Promise<void>;

  beforeAll(async () => {
    srv = await startFtpSrv({ user: 'alice', password: PASSWORD });
    put = (await ftpHarness(srv)).put;
  });
  afterAll(async () => {
    await srv?.stop();
    if (srv) await removeRoot(srv);
  });

  it('logs in with user and password from the URL', async () => {
    await put('login/ok.txt', 'ok');
    const src = ftpSourceFor(srv);
    try {
      expect((await src.stat('login/ok.txt', { signal: signal() }))?.size).toBe(2);
      expect(src.displayUrl).toBe(`ftp://alice@127.0.0.1:${srv.port}/models`);
    } finally {
      await src.close();
    }
  });

  it('reads the password from --ftp-password-file on first use', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm-ftp-pw-'));
    const file = path.join(dir, 'pw');
    await writeFile(file, `${PASSWORD}\n`);
    const raw = { 'ftp-username': 'alice', 'ftp-password-file': file };
    const src = ftpSourceFor(srv, { login: null, raw });
    try {
      expect((await src.stat('login', { signal: signal() }))?.isDirectory).toBe(true);
    } finally {
      await src.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a wrong password is an AuthError naming user and host, not retried, without the password', async () => {
    const src = ftpSourceFor(srv, { login: { user: 'alice', password: 'wrong-Pa55' } });
    const before = srv.logins();
    try {
      const s = signal();
      const op = () => src.stat('login/ok.txt', { signal: s });
      const err = await remoteOp(op, { signal: s, log: silentLogger(), retries: 3, timeoutMs: null, what: 'stat', minTimeoutMs: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).retryable).toBe(false);
      expect((err as Error).message).toContain('"alice"');
      expect((err as Error).message).toContain(`127.0.0.1:${srv.port}`);
      expect(chain(err)).not.toContain('wrong-Pa55');
      expect(srv.logins() - before).toBe(1);
    } finally {
      await src.close();
    }
  });

  it('a server restarted between two operations: the pool reconnects', async () => {
    const own = await startFtpSrv();
    const { put: putOwn } = await ftpHarness(own);
    await putOwn('restart/a.txt', 'abc');
    const src = ftpSourceFor(own);
    let again: FtpSrvHandle | undefined;
    try {
      expect((await src.stat('restart/a.txt', { signal: signal() }))?.size).toBe(3);
      await own.stop();
      again = await startFtpSrv({ root: own.root, port: own.port });
      expect((await src.stat('restart/a.txt', { signal: signal() }))?.size).toBe(3);
      expect((await digest(src, 'restart/a.txt')).md5).toBe(md5('abc'));
    } finally {
      await src.close();
      await again?.stop();
      await removeRoot(own);
    }
  });

  it('parallel downloads never open more connections than --concurrency', async () => {
    const own = await startFtpSrv();
    const { put: putOwn } = await ftpHarness(own);
    const files = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const data = randomBytes(150_000 + i);
        await putOwn(`pool/f${i}.bin`, data);
        return { p: `pool/f${i}.bin`, want: md5(data) };
      }),
    );
    const src = ftpSourceFor(own, { concurrency: 2 });
    try {
      const got = await Promise.all(files.map(async (f) => (await digest(src, f.p)).md5));
      expect(got).toEqual(files.map((f) => f.want));
      expect(own.peakConnections()).toBeLessThanOrEqual(2);
    } finally {
      await src.close();
      await own.stop();
      await removeRoot(own);
    }
  });

  it('abort mid-transfer errors the stream; the reader closing early is fine; the next op works', async () => {
    const data = randomBytes(4_000_000);
    await put('abort/big.bin', data);
    const src = ftpSourceFor(srv, { concurrency: 1 });
    try {
      const ac = new AbortController();
      const stream = await src.open('abort/big.bin', { signal: ac.signal });
      const failed = new Promise<unknown>((resolve) => stream.once('error', resolve));
      await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
      ac.abort();
      const err = await failed;
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe('E_ABORTED');
      // a reader that gives up early: the connection is replaced, not reused mid-transfer
      const early = await src.open('abort/big.bin', { signal: signal() });
      await new Promise<void>((resolve) => early.once('readable', () => resolve()));
      early.destroy();
      expect(await digest(src, 'abort/big.bin')).toEqual({ md5: md5(data), bytes: data.length });
    } finally {
      await src.close();
    }
  });

  it('a transfer the server ends early with 226 is a retryable error, not a short file', async () => {
    const data = randomBytes(300_000);
    await put('short/file.bin', data);
    const src = ftpSourceFor(srv);
    try {
      srv.truncateNextDownload('short/file.bin', 100_000);
      const err = await digest(src, 'short/file.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(true);
      expect((err as Error).message).toContain('after 100000 of 300000 bytes');
      expect(await digest(src, 'short/file.bin')).toEqual({ md5: md5(data), bytes: data.length });
    } finally {
      await src.close();
    }
  });

  it('hostile names in a listing are refused (UnsafePathError)', async () => {
    await put('hostile/ok.txt', 'x');
    await put('hostile/back\\slash', 'x');
    const src = ftpSourceFor(srv);
    try {
      const err = await (async () => {
        for await (const _ of src.list('hostile', { signal: signal() }));
      })().catch((e: unknown) => e);
      expect((err as MonitorError).code).toBe('E_UNSAFE_PATH');
    } finally {
      await src.close();
    }
  });
});

describe('ftp source: timeouts', () => {
  let silent: Server;
  let port: number;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    port = await freePort();
    silent = createServer((s) => sockets.add(s)); // accepts, never greets
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('a server that never answers is a retryable error after --timeout, not a hang', async () => {
    const deps = { log: silentLogger(), timeoutMs: 400, concurrency: 1 };
    const src = sourceWith(ftp, `ftp://127.0.0.1:${port}/`, {}, deps);
    try {
      const err = await src.stat('donefile', { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/timed out/);
    } finally {
      await src.close();
    }
  });
});

describe('ftp source: explicit FTPS (AUTH TLS) against ftp-srv', () => {
  let srv: FtpSrvHandle;
  let certDir: string;
  beforeAll(async () => {
    certDir = await mkdtemp(path.join(tmpdir(), 'mm-ftps-'));
    const key = path.join(certDir, 'key.pem');
    const cert = path.join(certDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], {
      stdio: 'ignore',
    });
    srv = await startFtpSrv({ tls: { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') } });
    await (await ftpHarness(srv)).put('tls/model.bin', 'over tls');
  });
  afterAll(async () => {
    await srv?.stop();
    if (srv) await removeRoot(srv);
    await rm(certDir, { recursive: true, force: true });
  });

  it('with --ftp-insecure-tls: stat, list and download over TLS', async () => {
    const src = ftpSourceFor(srv, { scheme: 'ftps', raw: { 'ftp-insecure-tls': 'true' } });
    try {
      expect(src.displayUrl.startsWith('ftps://')).toBe(true);
      expect((await src.stat('tls/model.bin', { signal: signal() }))?.size).toBe(8);
      const names: string[] = [];
      for await (const e of src.list('tls', { signal: signal() })) names.push(e.path);
      expect(names).toEqual(['model.bin']);
      expect((await digest(src, 'tls/model.bin')).md5).toBe(md5('over tls'));
    } finally {
      await src.close();
    }
  });

  it('without it, a self-signed certificate is refused and not retried', async () => {
    const src = ftpSourceFor(srv, { scheme: 'ftps' });
    try {
      const err = await src.stat('tls/model.bin', { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(false);
      expect((err as Error).message).toContain('--ftp-insecure-tls');
    } finally {
      await src.close();
    }
  });
});
