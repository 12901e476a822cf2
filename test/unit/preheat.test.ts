import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, ConfigError, RemoteError, TransientError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { parsePreheatTarget, preheat } from '../../src/preheat.js';
import { dirFiles, startForwardProxy, startHttpFileServer } from '../servers/http.js';
import { startManagerStandIn, type ManagerStandIn } from '../servers/dragonfly-manager.js';

const o = (extra: Partial<Parameters<typeof preheat>[2]> = {}) => ({ log: silentLogger(), signal: new AbortController().signal, deadlineMs: 10_000, ...extra });
const URLS = ['http://models.example/prod/model/a.bin?mmkey=1-2', 'http://models.example/prod/model/b.bin?mmkey=3-4'];

describe('parsePreheatTarget', () => {
  it("tells a Dragonfly manager's job API from a caching proxy; anything else names the flag", () => {
    expect(parsePreheatTarget('http://manager:8080/oapi/v1/jobs')).toEqual({ kind: 'dragonfly', jobs: new URL('http://manager:8080/oapi/v1/jobs') });
    expect(parsePreheatTarget('https://manager/api/v1/jobs/').kind).toBe('dragonfly');
    expect(parsePreheatTarget('http://squid:3128')).toEqual({ kind: 'cache', proxy: 'http://squid:3128' });
    for (const bad of ['', 'squid:3128', 'ftp://m/oapi/v1/jobs', 'http://m:8080/elsewhere', 'http://u:p@manager/oapi/v1/jobs']) {
      expect(() => parsePreheatTarget(bad), bad).toThrow(ConfigError);
      expect(() => parsePreheatTarget(bad), bad).toThrow(/^--preheat-url: /);
    }
  });
});

describe('preheat through a Dragonfly manager (recording stand-in)', () => {
  let mgr: ManagerStandIn;
  beforeAll(async () => (mgr = await startManagerStandIn()));
  afterAll(async () => mgr?.close());
  const target = () => parsePreheatTarget(`${mgr.url}/oapi/v1/jobs`);

  it('POSTs one file preheat job naming every URL, with the token as a Bearer', async () => {
    mgr.answer({});
    const from = mgr.requests.length;
    const r = await preheat(target(), URLS, o({ token: 'pat-123' }));
    expect(r).toEqual({ kind: 'dragonfly', urls: 2, jobId: expect.any(Number), state: 'PENDING' });
    const [q] = mgr.requests.slice(from);
    expect(q!.method).toBe('POST');
    expect(q!.path).toBe('/oapi/v1/jobs');
    expect(q!.headers['content-type']).toBe('application/json');
    expect(q!.headers.authorization).toBe('Bearer pat-123');
    expect(JSON.parse(q!.body)).toEqual({ type: 'preheat', args: { type: 'file', urls: URLS, scope: 'single_seed_peer' } });
  });

  it('--preheat-wait polls the job until SUCCESS; FAILURE is a RemoteError', async () => {
    mgr.answer({ states: ['PENDING', 'RUNNING', 'SUCCESS'] });
    const from = mgr.requests.length;
    const r = await preheat(target(), URLS, o({ wait: true, token: 't' }));
    expect(r.state).toBe('SUCCESS');
    const polls = mgr.requests.slice(from + 1);
    expect(polls.map((q) => `${q.method} ${q.path}`)).toEqual(Array(3).fill(`GET /oapi/v1/jobs/${r.jobId}`));
    expect(polls.every((q) => q.headers.authorization === 'Bearer t')).toBe(true);
    mgr.answer({ states: ['FAILURE'] });
    await expect(preheat(target(), URLS, o({ wait: true }))).rejects.toBeInstanceOf(RemoteError);
  });

  it('refused credentials are an AuthError, a 503 a TransientError, no answer within the deadline a TransientError', async () => {
    mgr.answer({ status: 401 });
    await expect(preheat(target(), URLS, o())).rejects.toBeInstanceOf(AuthError);
    mgr.answer({ status: 503 });
    await expect(preheat(target(), URLS, o())).rejects.toBeInstanceOf(TransientError);
    mgr.answer({ stall: true });
    const t0 = Date.now();
    await expect(preheat(target(), URLS, o({ deadlineMs: 300 }))).rejects.toThrow(/preheat timed out after/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    mgr.answer({});
  });

  it('nothing to preheat is bad input', async () => {
    await expect(preheat(target(), [], o())).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('preheat through a caching proxy', () => {
  it('GETs every file through the proxy with Cache-Control: no-cache and reads it whole', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mm-preheat-'));
    const srv = await startHttpFileServer(root);
    const proxy = await startForwardProxy();
    try {
      const files = dirFiles(root, 'm');
      await files.put('a.bin', 'a'.repeat(1000));
      await files.putLarge('b.bin', 3 * 1024 * 1024);
      const urls = [`${srv.url}/m/a.bin?mmkey=x`, `${srv.url}/m/b.bin?mmkey=y`];
      const r = await preheat(parsePreheatTarget(proxy.url), urls, o());
      expect(r).toEqual({ kind: 'cache', urls: 2, bytes: 1000 + 3 * 1024 * 1024 });
      expect(proxy.requests.map((q) => q.url).sort()).toEqual(urls);
      expect(proxy.requests.every((q) => q.method === 'GET' && q.headers['cache-control'] === 'no-cache')).toBe(true);
      srv.failNext('m/a.bin', 404);
      await expect(preheat(parsePreheatTarget(proxy.url), urls, o())).rejects.toBeInstanceOf(RemoteError);
    } finally {
      await proxy.close();
      await srv.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
