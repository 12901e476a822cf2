import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { LIST_SEPARATOR } from '../../src/options.js';
import { http } from '../../src/sources/http.js';
import type { RemoteEntry, Source, SourceDeps } from '../../src/sources/types.js';
import { digest, runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { dirFiles, startForwardProxy, startHttpFileServer, type DirFiles, type HttpFileServer } from '../servers/http.js';
import { freePort, waitFor } from '../servers/ports.js';
import { parseWith, sourceWith } from '../helpers/source.js';
import type { OptionSpec } from '../../src/options.js';

const deps: SourceDeps = { log: silentLogger(), timeoutMs: 15_000, concurrency: 4 };
const signal = () => AbortSignal.timeout(60_000);
// A socket-fed download leaves up to ~64 MB of received Buffers for V8 to collect (its external-memory
// GC trigger), so a fresh process's RSS peaks ~70 MB above its start however large the file: 160 MiB
// keeps the suite's "growth < size/2" check meaningful without that constant making it flaky.
const LARGE = 160 * 1024 * 1024;
const PREFIX = 'models'; // the source root is http://host/models

function source(url: string, raw: Record<string, string> = {}, d: Partial<SourceDeps> = {}): Source {
  return sourceWith(http, url, raw, { ...deps, ...d });
}

async function harness(): Promise<SourceHarness> {
  const root = await mkdtemp(path.join(tmpdir(), 'mm-http-'));
  await mkdir(path.join(root, PREFIX));
  const srv = await startHttpFileServer(root);
  const deadPort = await freePort();
  return {
    ...dirFiles(root, PREFIX),
    source: () => source(`${srv.url}/${PREFIX}`),
    wireSource: (wire) => source(`${srv.url}/${PREFIX}`, {}, { wire }),
    unreachable: () => source(`http://127.0.0.1:${deadPort}/${PREFIX}`),
    dropNextDownload: (p, afterBytes) => srv.dropNextDownload(`${PREFIX}/${p}`, afterBytes),
    async close() {
      await srv.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

runSourceSuite('http (node http server, python http.server-style index)', harness, { largeBytes: LARGE });

async function collect(src: Source, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of src.list(dir, { signal: signal() })) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function failure(p: Promise<unknown>): Promise<MonitorError> {
  const e = await p.then(
    () => new Error('expected a failure'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(MonitorError);
  return e as MonitorError;
}

describe('http source: directories, statuses, headers, proxy', () => {
  let root: string;
  let srv: HttpFileServer;
  let src: Source;
  let files: DirFiles;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mm-http-'));
    await mkdir(path.join(root, PREFIX));
    srv = await startHttpFileServer(root);
    src = source(`${srv.url}/${PREFIX}`);
    files = dirFiles(root, PREFIX);
  });
  afterAll(async () => {
    await src?.close();
    await srv?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('stat: a directory (the server redirects dir → dir/) and the root are directories', async () => {
    await files.put('m/a.bin', 'aaaa');
    expect(await src.stat('m', { signal: signal() })).toMatchObject({ isDirectory: true });
    expect(await src.stat('', { signal: signal() })).toMatchObject({ isDirectory: true });
    const f = await src.stat('m/a.bin', { signal: signal() });
    expect(f).toMatchObject({ path: 'm/a.bin', size: 4 });
    expect(f!.etag).toMatch(/^[0-9a-f-]+$/);
    expect(Math.abs(f!.mtimeMs! - Date.now())).toBeLessThan(3_600_000);
  });

  it('list: the parent, sort and foreign-host links of the index are not followed', async () => {
    await files.put('outside.bin', 'not part of the model');
    await files.put('tree/x/y.bin', 'y');
    const got = await collect(src, 'tree');
    expect(got.map((e) => e.path)).toEqual(['x/y.bin']);
  });

  it('401 and 403 are AuthErrors, 500/503/429 transient, 404 not-found', async () => {
    await files.put('st/f.bin', 'f');
    const cases: [number, string, boolean][] = [
      [401, 'E_AUTH', false],
      [403, 'E_AUTH', false],
      [500, 'E_TRANSIENT', true],
      [503, 'E_TRANSIENT', true],
      [429, 'E_TRANSIENT', true],
      [418, 'E_REMOTE', false],
    ];
    for (const [status, code, retryable] of cases) {
      srv.failNext(`${PREFIX}/st/f.bin`, status, 2);
      const e = await failure(digest(src, 'st/f.bin'));
      expect([status, e.code, e.retryable]).toEqual([status, code, retryable]);
      const s = await failure(src.stat('st/f.bin', { signal: signal() }));
      expect([status, s.code]).toEqual([status, code]);
    }
    expect((await failure(digest(src, 'st/none.bin'))).code).toBe('E_NOT_FOUND');
  });

  it('open: a directory is not a file; a server that ignores Range is refused', async () => {
    expect((await failure(digest(src, 'st'))).code).toBe('E_NOT_FOUND');
    srv.setRanges(false);
    try {
      const e = await failure(digest(src, 'st/f.bin', 0).then(() => digest(src, 'm/a.bin', 2)));
      expect(e.code).toBe('E_REMOTE');
      expect(e.message).toMatch(/Range/);
    } finally {
      srv.setRanges(true);
    }
  });

  it('--http-header and URL credentials are sent; a missing one is an AuthError', async () => {
    srv.requireHeader('authorization', 'Bearer s3cret');
    try {
      expect((await failure(src.stat('m/a.bin', { signal: signal() }))).code).toBe('E_AUTH');
      const withHeader = source(`${srv.url}/${PREFIX}`, {
        'http-header': ['X-Trace: 1', 'Authorization: Bearer s3cret'].join(LIST_SEPARATOR),
      });
      expect(await collect(withHeader, 'm')).toMatchObject([{ path: 'a.bin', size: 4 }]);
      await withHeader.close();
      srv.requireHeader('authorization', `Basic ${Buffer.from('user:pa ss').toString('base64')}`);
      const withUrl = source(`${srv.url.replace('//', '//user:pa%20ss@')}/${PREFIX}`);
      expect(withUrl.displayUrl).not.toContain('pa');
      expect((await digest(withUrl, 'm/a.bin')).bytes).toBe(4);
      await withUrl.close();
    } finally {
      srv.requireHeader('authorization', null);
    }
  });

  it('a server that never answers: TransientError after --timeout; cancelled: AbortedError', async () => {
    const quick = source(`${srv.url}/${PREFIX}`, {}, { timeoutMs: 1_000 });
    try {
      srv.stallNext(`${PREFIX}/m/a.bin`);
      const e = await failure(quick.stat('m/a.bin', { signal: signal() }));
      expect([e.code, e.retryable]).toEqual(['E_TRANSIENT', true]);
      srv.stallNext(`${PREFIX}/m/a.bin`);
      const e2 = await failure(quick.open('m/a.bin', { signal: signal() }));
      expect([e2.code, e2.retryable]).toEqual(['E_TRANSIENT', true]);
      // the server sees the two timed-out requests close a moment after the client gave up on them
      await waitFor(() => srv.stalled() === 0, 'the timed-out requests to close');
      srv.stallNext(`${PREFIX}/m/a.bin`);
      const ac = new AbortController();
      const pending = failure(src.stat('m/a.bin', { signal: ac.signal }));
      await waitFor(() => srv.stalled() > 0, 'the request to reach the server');
      ac.abort();
      expect((await pending).code).toBe('E_ABORTED');
    } finally {
      await quick.close();
    }
  });

  it('HTTP_PROXY is honoured, NO_PROXY too', async () => {
    const proxy = await startForwardProxy();
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
    try {
      process.env.HTTP_PROXY = proxy.url;
      delete process.env.NO_PROXY;
      const via = source(`${srv.url}/${PREFIX}`);
      expect((await digest(via, 'm/a.bin')).bytes).toBe(4);
      await via.close();
      expect(proxy.carried).toContain(`${srv.url}/${PREFIX}/m/a.bin`);
      process.env.NO_PROXY = '127.0.0.1';
      const direct = source(`${srv.url}/${PREFIX}`);
      const before = proxy.carried.length;
      expect((await digest(direct, 'm/a.bin')).bytes).toBe(4);
      await direct.close();
      expect(proxy.carried.length).toBe(before);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await proxy.close();
    }
  });
});

describe('http.parse (no I/O)', () => {
  const parse = (url: string, raw: Record<string, string> = {}) => parseWith(http, url, raw);

  it('declares its options (headers secret, the shared --proxy); root normalised, credentials moved into a header', () => {
    expect((http.options as readonly OptionSpec[]).map((o) => [o.name, o.kind, o.secret])).toEqual([
      ['general-host', 'string', undefined],
      ['http-header', 'list', true],
      ['proxy', 'string', undefined],
    ]);
    expect(parse('http://h:8080/models/')).toEqual({ root: 'http://h:8080/models', headers: {}, proxy: undefined });
    expect(parse('http://h/m', { proxy: 'http://squid:3128' }).proxy).toBe('http://squid:3128');
    const p = parse('https://bob:p%40ss@h/m');
    expect(p.root).toBe('https://h/m');
    expect(p.headers).toEqual({ authorization: `Basic ${Buffer.from('bob:p@ss').toString('base64')}` });
    const h = parse('http://h/m', { 'http-header': `X-A: 1${LIST_SEPARATOR}authorization:Bearer t ` });
    expect(h.headers).toEqual({ 'x-a': '1', authorization: 'Bearer t' });
  });

  it.each([
    ['http://h/m?x=1', {}, 'remote'],
    ['ftp://h/m', {}, 'remote'],
    ['http://h/m', { 'http-header': 'no colon here' }, 'http-header'],
    ['http://h/m', { 'http-header': 'Bad Name: v' }, 'http-header'],
  ])('%s %j is refused naming --%s, without echoing the value', (url, raw, flag) => {
    const e = (() => {
      try {
        parse(url, raw);
      } catch (err) {
        return err as { flag?: string; message: string };
      }
      throw new Error('expected a ConfigError');
    })();
    expect(e.flag).toBe(flag);
    expect(e.message).not.toContain('no colon here');
  });
});
