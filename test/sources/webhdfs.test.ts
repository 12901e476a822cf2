import { writeLargeFile } from '../helpers/large.js';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, MonitorError, NotFoundError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { remoteOp } from '../../src/retry.js';
import type { RemoteEntry, Source } from '../../src/sources/types.js';
import { webhdfs } from '../../src/sources/webhdfs.js';
import type { WireEngine } from '../../src/wire/engine.js';
import { createWireEngine } from '../../src/wire/pool.js';
import { digest, runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { freePort } from '../servers/ports.js';
import { WebHdfsTestServer, type WebHdfsServerOptions } from '../servers/webhdfs.js';
import { sourceWith } from '../helpers/source.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const signal = () => AbortSignal.timeout(60_000);
const deps = (timeoutMs = 20_000) => ({ log: silentLogger(), timeoutMs, concurrency: 4 });

/** A source over `remote` (the raw --remote string, which may hold a comma list of namenodes). */
function sourceFor(remote: string, extra: Record<string, string> = {}, timeoutMs?: number, wire?: WireEngine): Source {
  const raw = { remote, 'hdfs-user': 'alice', ...extra };
  return sourceWith(webhdfs, remote, raw, { ...deps(timeoutMs), ...(wire ? { wire } : {}) });
}

async function put(root: string, p: string, data: Buffer | string): Promise<void> {
  await mkdir(path.dirname(path.join(root, p)), { recursive: true });
  await writeFile(path.join(root, p), data);
}

const putLarge = (root: string, p: string, size: number) => writeLargeFile(path.join(root, p), size);

async function collect(src: Source, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of src.list(dir, { signal: signal() })) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function harnessFor(server: Partial<WebHdfsServerOptions>, extra: Record<string, string> = {}) {
  return async (): Promise<SourceHarness> => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm-webhdfs-'));
    const models = path.join(dir, 'models');
    await mkdir(models);
    const s = await WebHdfsTestServer.start({ root: dir, ...server });
    const dead = await freePort();
    const src = () => sourceFor(`${s.url}/models`, extra);
    return {
      put: (p, data) => put(models, p, data),
      putLarge: (p, size) => putLarge(models, p, size),
      remove: (p) => rm(path.join(models, p), { force: true }),
      source: src,
      // HttpFS answers OPEN with the data: no datanode read for the wire path (download() resolves null, tested below)
      ...(server.mode !== 'httpfs' ? { wireSource: (wire: WireEngine) => sourceFor(`${s.url}/models`, extra, undefined, wire) } : {}),
      unreachable: () => sourceFor(`webhdfs://127.0.0.1:${dead}/models`, extra, 5_000),
      // open() resumes a drop by itself: the failure surfaces once its resumes make no progress
      dropNextDownload: (p, after) => s.dropNext(`/models/${p}`, after, 0, 0, 0, 0, 0),
      async close() {
        await s.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

runSourceSuite('webhdfs (namenode 307 → datanode)', harnessFor({ mode: 'namenode' }));
runSourceSuite('webhdfs (noredirect=true JSON Location)', harnessFor({ mode: 'namenode', batchSize: 2 }, { 'hdfs-noredirect': 'true' }));
runSourceSuite('webhdfs (HttpFS: data from the gateway, no LISTSTATUS_BATCH)', harnessFor({ mode: 'httpfs' }));

describe('webhdfs: failover, resume, errors', () => {
  let dir: string;
  let nn1: WebHdfsTestServer;
  let nn2: WebHdfsTestServer;
  const sources: Source[] = [];
  const track = (s: Source) => (sources.push(s), s);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mm-webhdfs-x-'));
    nn1 = await WebHdfsTestServer.start({ root: dir });
    nn2 = await WebHdfsTestServer.start({ root: dir });
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await Promise.all([nn1?.close(), nn2?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('HttpFS (the OPEN answers with the data): download() resolves null, having written nothing, and open() reads the file', async () => {
    const gw = await WebHdfsTestServer.start({ root: dir, mode: 'httpfs' });
    const wire = createWireEngine()!;
    try {
      await put(dir, 'h/model.bin', 'gateway bytes');
      const src = track(sourceFor(`${gw.url}/h`, {}, undefined, wire));
      const file = path.join(dir, 'h-out');
      const t = { file, position: 0, length: 13, part: false, fresh: false, md5: false, idleMs: 10_000, minBytesPerSec: 0 };
      expect(await src.download!('model.bin', t, { signal: signal() })).toBeNull();
      expect(await src.download!('model.bin', t, { signal: signal() })).toBeNull();
      expect(await readFile(file).catch(() => null)).toBeNull();
      expect((await digest(src, 'model.bin')).md5).toBe(md5('gateway bytes'));
    } finally {
      await wire.close();
      await gw.close();
    }
  });

  it('a datanode dropping the connection twice mid-file: resumed, intact, no byte read twice', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    await put(dir, 'r/model.bin', data);
    nn1.dropNext('/r/model.bin', 3 * 1024 * 1024, 3 * 1024 * 1024);
    const before = nn1.dataBytes;
    const src = track(sourceFor(`${nn1.url}/r`));
    expect(await digest(src, 'model.bin')).toEqual({ md5: md5(data), bytes: data.length });
    const served = nn1.dataBytes - before;
    expect(served).toBeGreaterThanOrEqual(data.length);
    expect(served).toBeLessThan(data.length + 512 * 1024); // starting over would be +6 MiB
    const offsets = nn1.requests.filter((r) => r.server === 'dn' && r.path === '/r/model.bin').map((r) => Number(r.params.offset));
    expect(offsets).toHaveLength(3);
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBeGreaterThan(2 * 1024 * 1024);
    expect(offsets[2]).toBeGreaterThan(offsets[1]!);
  });

  it('StandbyException on nn1: fails over to nn2 and stays there', async () => {
    await put(dir, 'f/donefile', 'v1');
    await put(dir, 'f/m/a.bin', 'aaaa');
    nn1.standby = true;
    const before = nn1.count('nn');
    try {
      const src = track(sourceFor(`webhdfs://127.0.0.1:${nn1.nnPort},127.0.0.1:${nn2.nnPort}/f`));
      expect((await src.stat('donefile', { signal: signal() }))?.size).toBe(2);
      expect((await collect(src, 'm')).map((e) => e.path)).toEqual(['a.bin']);
      expect((await digest(src, 'm/a.bin')).md5).toBe(md5('aaaa'));
      expect(nn1.count('nn') - before).toBe(1); // demoted after its first StandbyException
      expect(nn2.count('nn', 'GETFILESTATUS')).toBeGreaterThanOrEqual(1);
    } finally {
      nn1.standby = false;
    }
  });

  it('connection refused on the first namenode: the next one answers', async () => {
    await put(dir, 'g/donefile', 'x');
    const dead = await freePort();
    const src = track(sourceFor(`webhdfs://127.0.0.1:${dead},127.0.0.1:${nn2.nnPort}/g`));
    expect((await src.stat('donefile', { signal: signal() }))?.size).toBe(1);
  });

  it('both namenodes flaky (random StandbyException): retried operations all succeed', async () => {
    await put(dir, 'h/donefile', 'flaky');
    nn1.standbyProbability = 0.3;
    nn2.standbyProbability = 0.3;
    try {
      const src = track(sourceFor(`webhdfs://127.0.0.1:${nn1.nnPort},127.0.0.1:${nn2.nnPort}/h`));
      const o = { signal: signal(), log: silentLogger(), retries: 12, timeoutMs: null, what: 'stat', minTimeoutMs: 1, maxTimeoutMs: 5 };
      for (let i = 0; i < 20; i++) {
        expect((await remoteOp(() => src.stat('donefile', { signal: signal() }), o))?.size).toBe(5);
      }
    } finally {
      nn1.standbyProbability = 0;
      nn2.standbyProbability = 0;
    }
  });

  it('AccessControlException: AuthError with a clear message, never retried', async () => {
    await put(dir, 'a/secret.bin', 'no');
    nn2.denied.add('/a/secret.bin');
    const src = track(sourceFor(`${nn2.url}/a`));
    const before = nn2.count('nn', 'GETFILESTATUS');
    const o = { signal: signal(), log: silentLogger(), retries: 5, timeoutMs: null, what: 'stat', minTimeoutMs: 1 };
    const err = await remoteOp(() => src.stat('secret.bin', { signal: signal() }), o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toMatch(/access denied.*AccessControlException.*Permission denied/);
    expect(nn2.count('nn', 'GETFILESTATUS') - before).toBe(1);
    await expect(digest(src, 'secret.bin')).rejects.toBeInstanceOf(AuthError);
  });

  it('LISTSTATUS_BATCH: pages with startAfter until remainingEntries is 0', async () => {
    const s = await WebHdfsTestServer.start({ root: dir, batchSize: 2 });
    try {
      for (let i = 0; i < 9; i++) await put(dir, `p/m/f${i}.bin`, 'x'.repeat(i));
      const src = track(sourceFor(`${s.url}/p`));
      const got = await collect(src, 'm');
      expect(got.map((e) => [e.path, e.size])).toEqual(Array.from({ length: 9 }, (_, i) => [`f${i}.bin`, i]));
      const pages = s.requests.filter((r) => r.op === 'LISTSTATUS_BATCH');
      expect(pages).toHaveLength(5);
      expect(pages.map((r) => r.params.startAfter)).toEqual([undefined, 'f1.bin', 'f3.bin', 'f5.bin', 'f7.bin']);
    } finally {
      await s.close();
    }
  });

  it('a server without LISTSTATUS_BATCH: falls back to LISTSTATUS, and remembers', async () => {
    const s = await WebHdfsTestServer.start({ root: dir, batchSize: 0 });
    try {
      await put(dir, 'q/m/a', 'a');
      await put(dir, 'q/m/sub/b', 'bb');
      const src = track(sourceFor(`${s.url}/q`));
      expect((await collect(src, 'm')).map((e) => e.path)).toEqual(['a', 'sub/b']);
      expect(s.count('nn', 'LISTSTATUS_BATCH')).toBe(1);
      expect(s.count('nn', 'LISTSTATUS')).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('a slow datanode: the timeout bounds waits, not the whole transfer', async () => {
    const data = randomBytes(1024 * 1024);
    await put(dir, 's/slow.bin', data);
    nn2.throttleBytesPerSec = 384 * 1024;
    try {
      const src = track(sourceFor(`${nn2.url}/s`, {}, 1_500));
      expect((await digest(src, 'slow.bin')).md5).toBe(md5(data));
    } finally {
      nn2.throttleBytesPerSec = 0;
    }
  });

  it('user.name and delegation reach the server; a bad token is an AuthError', async () => {
    const s = await WebHdfsTestServer.start({ root: dir, token: 'tok-123_ABC' });
    try {
      await put(dir, 't/m.bin', 'token');
      const ok = track(sourceFor(`${s.url}/t`, { 'hdfs-token': 'tok-123_ABC', 'hdfs-user': '' }));
      expect((await digest(ok, 'm.bin')).md5).toBe(md5('token'));
      const nnReq = s.requests.find((r) => r.server === 'nn' && r.op === 'OPEN');
      expect(nnReq?.params).toMatchObject({ delegation: 'tok-123_ABC' });
      expect(nnReq?.params['user.name']).toBeUndefined();
      const bad = track(sourceFor(`${s.url}/t`, { 'hdfs-token': 'wrong' }));
      await expect(bad.stat('m.bin', { signal: signal() })).rejects.toBeInstanceOf(AuthError);
      const none = track(sourceFor(`${s.url}/t`));
      await expect(none.stat('m.bin', { signal: signal() })).rejects.toBeInstanceOf(AuthError);
      expect(s.requests.some((r) => r.params['user.name'] === 'alice')).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('HTTP_PROXY is honoured, for the namenode and the datanode alike', async () => {
    await put(dir, 'v/m.bin', 'via proxy');
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      seen.push(req.url ?? '');
      const u = new URL(req.url ?? '');
      const up = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    delete process.env.NO_PROXY;
    try {
      const src = track(sourceFor(`${nn2.url}/v`));
      expect((await digest(src, 'm.bin')).md5).toBe(md5('via proxy'));
      expect(seen.some((u) => u.startsWith(`http://127.0.0.1:${nn2.nnPort}/webhdfs/v1/v/m.bin?op=OPEN`))).toBe(true);
      expect(seen.some((u) => u.startsWith(`http://127.0.0.1:${nn2.dnPort}/webhdfs/v1/v/m.bin?op=OPEN`))).toBe(true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      proxy.closeAllConnections();
      await new Promise((res) => proxy.close(res));
    }
  });

  // undici 7 retried an aborted CONNECT in a tight loop (nodejs/undici#3897); node:http with
  // https-proxy-agent makes one CONNECT per attempt and fails it.
  it('swebhdfs through a proxy that drops CONNECT: a retryable error, one CONNECT per attempt', async () => {
    let connects = 0;
    const proxy = createServer();
    proxy.on('connect', (_req, sock: import('node:net').Socket) => (connects++, sock.destroy()));
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    const saved = process.env.HTTPS_PROXY;
    process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const src = track(sourceFor('swebhdfs://127.0.0.1:9/x', {}, 1_500));
      const err = await src.stat('donefile', { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(true);
      expect(connects).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
      proxy.closeAllConnections();
      await new Promise((res) => proxy.close(res));
    }
  });

  it('a path that is a file is not listable; a directory is not openable', async () => {
    await put(dir, 'u/file', 'f');
    const src = track(sourceFor(`${nn2.url}/u`));
    const err = await collect(src, 'file').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe('E_REMOTE');
    await expect(digest(src, '')).rejects.toBeInstanceOf(NotFoundError);
    expect(await src.stat('', { signal: signal() })).toMatchObject({ isDirectory: true });
  });
});
