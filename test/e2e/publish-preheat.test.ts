/**
 * e2e: `publish --preheat-url`. Once the donefile names the new version, one
 * Dragonfly job (the recording manager stand-in) or one GET per file through
 * a caching proxy names the new version's files exactly as a replica behind
 * a proxy then requests them. A failed preheat is logged and publish still
 * exits 0 (the version is published); a remote whose file URLs cannot be
 * named is bad input (exit 2) before anything is uploaded.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { readTree } from '../helpers/producer.js';
import { writeVersion } from '../helpers/publisher.js';
import { startTarget, type Target } from '../helpers/targets.js';
import { startManagerStandIn, type ManagerStandIn } from '../servers/dragonfly-manager.js';
import { startForwardProxy, type ForwardProxy } from '../servers/http.js';

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
let dir: string;
let s3: Target;
let mgr: ManagerStandIn;
let proxy: ForwardProxy;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-pubheat-'));
  [s3, mgr, proxy] = await Promise.all([startTarget('s3rver'), startManagerStandIn(), startForwardProxy()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([s3?.close(), mgr?.close(), proxy?.close()]);
  await rm(dir, { recursive: true, force: true });
});

const jobUrls = (body: string) => (JSON.parse(body) as { args: { urls: string[] } }).args.urls;
const modelDir = () => path.join(dir, 'model');
const jobs = () => `${mgr.url}/oapi/v1/jobs`;

/** A replica's sync through the proxy: the model files it GETs (the objects under a version's files/). */
async function replicaGets(local: string): Promise<string[]> {
  const before = proxy.requests.length;
  const s = await run(['sync', ...s3.args, ...names, '--proxy', proxy.url, '--local_path', local], { env: s3.env });
  expect(s.code, s.stderr).toBe(0);
  return proxy.requests
    .slice(before)
    .filter((q) => q.method === 'GET' && /\/model\/[^/]+\/files\//.test(new URL(q.url).pathname))
    .map((q) => q.url)
    .sort();
}

describe('publish --preheat-url', () => {
  it('Dragonfly: one job after the commit, naming the new version’s files as the replicas request them', async () => {
    await writeVersion(modelDir(), 1, 64 * 1024);
    const from = mgr.requests.length;
    const r = await run(['publish', modelDir(), ...s3.args, ...names, '--preheat-url', jobs()], { env: { ...s3.env, MODEL_MONITOR_PREHEAT_TOKEN: 'pat-1' } });
    expect(r.code, r.stderr).toBe(0);
    const events = r.lines.map((l) => l.event);
    expect(events.indexOf('committed')).toBeGreaterThan(-1);
    expect(events.indexOf('preheat-job')).toBeGreaterThan(events.indexOf('committed'));
    const posts = mgr.requests.slice(from);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.headers.authorization).toBe('Bearer pat-1');
    const preheated = jobUrls(posts[0]!.body).sort();
    expect(preheated.length).toBe(Object.keys(await readTree(modelDir())).length);
    expect(await replicaGets(path.join(dir, 'replica1'))).toEqual(preheated);
    expect(r.stdout + r.stderr).not.toContain('pat-1');
  });

  it('a caching proxy: each file of the new version GET through it once', async () => {
    await writeVersion(modelDir(), 2, 64 * 1024);
    const before = proxy.requests.length;
    const r = await run(['publish', modelDir(), ...s3.args, ...names, '--preheat-url', proxy.url], { env: s3.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.find((l) => l.event === 'preheat-failed')).toBeUndefined();
    expect(r.lines.find((l) => l.event === 'preheat-done')).toMatchObject({ urls: Object.keys(await readTree(modelDir())).length });
    const warmed = proxy.requests
      .slice(before)
      .filter((q) => q.method === 'GET')
      .map((q) => q.url)
      .sort();
    expect(warmed.length).toBe(Object.keys(await readTree(modelDir())).length);
    expect(warmed.every((u) => /\/model\/[^/]+\/files\//.test(new URL(u).pathname))).toBe(true);
    expect(await replicaGets(path.join(dir, 'replica2'))).toEqual(warmed);
  });

  it('a refused preheat is logged; publish exits 0 and the new version is served', async () => {
    await writeVersion(modelDir(), 3, 64 * 1024);
    mgr.answer({ status: 500 });
    try {
      const r = await run(['publish', modelDir(), ...s3.args, ...names, '--preheat-url', jobs()], { env: s3.env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines.find((l) => l.event === 'preheat-failed')?.msg).toMatch(/is published all the same/);
      expect(r.stderr).toBe('');
    } finally {
      mgr.answer({});
    }
    const local = path.join(dir, 'replica3');
    expect((await run(['sync', ...s3.args, ...names, '--local_path', local], { env: s3.env })).code).toBe(0);
    expect((await readTree(path.join(local, 'model')))['__model__']).toBe('model version 3\n');
  });

  it('a manager that never answers: the preheat gives up at --preheat-timeout, publish exits 0', async () => {
    await writeVersion(modelDir(), 4, 64 * 1024);
    mgr.answer({ stall: true });
    try {
      const r = await run(['publish', modelDir(), ...s3.args, ...names, '--preheat-url', jobs(), '--preheat-timeout', '1'], { env: s3.env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines.find((l) => l.event === 'preheat-failed')?.msg).toMatch(/timed out after 1 s/);
    } finally {
      mgr.answer({});
    }
  });

  it('bad input is exit 2 before any upload: a remote whose URLs cannot be named, a bad --preheat-url', async () => {
    const remote = path.join(dir, 'file-remote');
    const file = await run(['publish', modelDir(), '--remote', `file://${remote}`, ...names, '--preheat-url', jobs()]);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/^model-monitor: --remote: file file URLs cannot be named ahead .*canary replica/);
    expect(await readdir(remote).catch(() => [])).toEqual([]);
    const bad = await run(['publish', modelDir(), '--remote', `file://${remote}`, ...names, '--preheat-url', 'http://manager:8080/nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^model-monitor: --preheat-url: want a Dragonfly manager's job API/);
    const ceiling = await run(['publish', modelDir(), ...s3.args, ...names, '--preheat-url', jobs(), '--preheat-timeout', '86401'], { env: s3.env });
    expect(ceiling.code).toBe(2);
    expect(ceiling.stderr).toMatch(/--preheat-timeout/);
  });
});
