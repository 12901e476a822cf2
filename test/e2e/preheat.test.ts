/**
 * e2e: `model-monitor preheat`. Given URLs, one Dragonfly job naming them;
 * given the replicas' remote flags, the files of the remote model exactly as a
 * replica behind a proxy requests them (same version keys), so the preheated
 * tasks are the ones the fleet asks for. A caching proxy as the target: each
 * file fetched through it once. Bad input exits 2; a refused job exits 1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startManagerStandIn, type ManagerStandIn } from '../servers/dragonfly-manager.js';
import { startForwardProxy, startHttpFileServer, type ForwardProxy, type HttpFileServer } from '../servers/http.js';

let dir: string;
let mgr: ManagerStandIn;
let srv: HttpFileServer;
let proxy: ForwardProxy;
const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-preheat-e2e-'));
  await publish(path.join(dir, 'www'), 'model', modelFiles(1));
  [mgr, srv, proxy] = await Promise.all([startManagerStandIn(), startHttpFileServer(path.join(dir, 'www')), startForwardProxy()]);
});
afterAll(async () => {
  await Promise.all([mgr?.close(), srv?.close(), proxy?.close()]);
  await rm(dir, { recursive: true, force: true });
});

const jobUrls = (body: string) => (JSON.parse(body) as { args: { urls: string[] } }).args.urls;
/** The result line on stdout (log lines, also JSON on stdout, may come before or after it). */
const result = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((o) => 'kind' in o);

it('preheat URL...: one Dragonfly job with those URLs; the token from the environment', async () => {
  const from = mgr.requests.length;
  const r = await run(['preheat', '--preheat-url', `${mgr.url}/oapi/v1/jobs`, 'http://o/m/a.bin', 'http://o/m/b.bin'], {
    env: { MODEL_MONITOR_PREHEAT_TOKEN: 'secret-pat' },
  });
  expect(r.code, r.stderr).toBe(0);
  const [q] = mgr.requests.slice(from);
  expect(q!.headers.authorization).toBe('Bearer secret-pat');
  expect(jobUrls(q!.body)).toEqual(['http://o/m/a.bin', 'http://o/m/b.bin']);
  expect(result(r.stdout)).toMatchObject({ kind: 'dragonfly', urls: 2, state: 'PENDING' });
  expect(r.stdout + r.stderr).not.toContain('secret-pat');
});

it('preheat --remote …: the model files as a replica behind a proxy requests them', async () => {
  const remote = ['--remote', `${srv.url}/`, ...names];
  const from = mgr.requests.length;
  const r = await run(['preheat', '--preheat-url', `${mgr.url}/oapi/v1/jobs`, ...remote]);
  expect(r.code, r.stderr).toBe(0);
  const preheated = jobUrls(mgr.requests[from]!.body).sort();
  const before = proxy.requests.length;
  const s = await run(['sync', ...remote, '--proxy', proxy.url, '--local_path', path.join(dir, 'replica')]);
  expect(s.code, s.stderr).toBe(0);
  const pulled = proxy.requests
    .slice(before)
    .filter((q) => q.method === 'GET' && /\/model\/.*[^/]$/.test(new URL(q.url).pathname))
    .map((q) => q.url)
    .sort();
  expect(preheated).toHaveLength(3);
  expect(preheated.every((u) => /[?&]mmkey=/.test(u))).toBe(true);
  expect(pulled).toEqual(preheated);
});

it('preheat through a caching proxy GETs each file once through it', async () => {
  const before = proxy.requests.length;
  const r = await run(['preheat', '--preheat-url', proxy.url, '--remote', `${srv.url}/`, ...names]);
  expect(r.code, r.stderr).toBe(0);
  const gets = proxy.requests.slice(before);
  expect(gets.map((q) => new URL(q.url).pathname).sort()).toEqual(['/model/__model__', '/model/params/fc_0.b_0', '/model/params/fc_0.w_0']);
  expect(result(r.stdout)).toMatchObject({ kind: 'cache', urls: 3 });
});

it('bad input exits 2 naming the flag; a refused job exits 1', async () => {
  const bad = await run(['preheat', '--preheat-url', 'http://manager:8080/nope', 'http://o/a']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--preheat-url/);
  const none = await run(['preheat', '--preheat-url', `${mgr.url}/oapi/v1/jobs`]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/give the file URLs, or the remote flags/);
  const hdfs = await run(['preheat', '--preheat-url', `${mgr.url}/oapi/v1/jobs`, '--remote', 'webhdfs://127.0.0.1:1/m', ...names]);
  expect(hdfs.code).toBe(2);
  expect(hdfs.stderr).toMatch(/canary replica/);
  mgr.answer({ status: 403 });
  const refused = await run(['preheat', '--preheat-url', `${mgr.url}/oapi/v1/jobs`, 'http://o/a']);
  mgr.answer({});
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/preheat-failed/);
});
