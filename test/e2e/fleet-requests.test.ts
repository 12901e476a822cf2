/**
 * e2e: what a replica asks a cache tier, recorded by a forward proxy given to
 * `sync --proxy` (real CLI), for each HTTP-based source against its real
 * server: every request says `Cache-Control: no-cache` (polls, listings and
 * files are revalidated), model files are whole-file GETs with a version key,
 * two replicas request the very same URLs (nothing per replica), and the
 * example Dragonfly config (examples/dragonfly/dfdaemon.yaml) sends exactly
 * the model-file GETs through P2P and everything else direct.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startForwardProxy, startHttpFileServer, type CarriedRequest, type ForwardProxy } from '../servers/http.js';
import { seedObjects, startS3rver } from '../servers/s3rver.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const files = modelFiles(1, { 'params/big.bin': Buffer.alloc(3 * 1024 * 1024, 7) });
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

let dir: string;
let proxy: ForwardProxy;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-fleet-req-'));
  proxy = await startForwardProxy();
});
afterAll(async () => {
  await proxy?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Two replicas sync the same remote through the recording proxy; their requests, in order. */
async function twoReplicas(tag: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CarriedRequest[][]> {
  const out: CarriedRequest[][] = [];
  for (const r of ['a', 'b']) {
    const from = proxy.requests.length;
    // --part-size left out on purpose: through a proxy a 3 MiB file over 1M parts comes whole anyway
    const res = await run(['sync', ...args, ...names, '--proxy', proxy.url, '--concurrency', '4', '--local_path', path.join(dir, `${tag}-${r}`)], { env });
    expect(res.code, res.stderr + res.stdout.slice(-2000)).toBe(0);
    expect(await readFile(path.join(dir, `${tag}-${r}`, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
    out.push(proxy.requests.slice(from));
  }
  return out;
}

const isModelFileGet = (q: CarriedRequest, marker: string) => q.method === 'GET' && q.url.includes(marker) && !new URL(q.url).pathname.endsWith('/');

/** What every source must do through a cache. */
function expectCacheCorrect(replicas: CarriedRequest[][], marker: string): void {
  for (const reqs of replicas) {
    expect(reqs.length).toBeGreaterThan(3);
    for (const q of reqs) expect(q.headers['cache-control'], `${q.method} ${q.url}`).toBe('no-cache');
    const gets = reqs.filter((q) => isModelFileGet(q, marker));
    expect(gets.length).toBeGreaterThanOrEqual(3);
    for (const q of gets) {
      expect(q.url, 'a version key').toMatch(/[?&]mmkey=[^&]+/);
      expect(q.headers.range, `${q.url}: whole files through a proxy`).toBeUndefined();
    }
  }
  // Stable URLs: both replicas asked for exactly the same model files.
  const urls = replicas.map((reqs) =>
    reqs
      .filter((q) => isModelFileGet(q, marker))
      .map((q) => q.url)
      .sort(),
  );
  expect(urls[1]).toEqual(urls[0]);
}

interface Recorded {
  readonly requests: readonly CarriedRequest[];
  /** Recorded origin → the origin the example config names. */
  readonly origins: Readonly<Record<string, string>>;
  /** Which GETs are model files. */
  readonly marker: string;
}
const recorded: Recorded[] = [];

describe('every HTTP-based source through a recording proxy', () => {
  it('http://: HEAD polls and listings revalidated; files whole, version-keyed, the same URLs on every replica', async () => {
    const www = path.join(dir, 'www');
    await publish(path.join(www, 'prod', 'ranking'), 'model', files);
    const srv = await startHttpFileServer(www);
    try {
      const replicas = await twoReplicas('http', ['--remote', `${srv.url}/prod/ranking`]);
      expectCacheCorrect(replicas, '/prod/ranking/model/');
      recorded.push({ requests: replicas.flat(), origins: { [srv.url]: 'http://models.example.internal:8080' }, marker: '/prod/ranking/model/' });
    } finally {
      await srv.close();
    }
  });

  it('webhdfs://: namenode and datanode requests alike; the datanode URL carries the version key', async () => {
    const root = path.join(dir, 'hdfs');
    await publish(path.join(root, 'prod', 'ranking'), 'model', files);
    const nn = await WebHdfsTestServer.start({ root });
    try {
      const replicas = await twoReplicas('hdfs', ['--remote', `${nn.url}/prod/ranking`, '--hdfs-user', 'serving']);
      const dn = `:${nn.dnPort}/`;
      expectCacheCorrect(
        replicas.map((r) => r.filter((q) => !(q.url.includes('op=OPEN') && !q.url.includes(dn)))),
        `${dn}webhdfs/v1/prod/ranking/model/`,
      );
      // the namenode's OPEN (a 307) is version-keyed too, so HttpFS answers (the data itself) are
      expect(replicas[0]!.filter((q) => q.url.includes(`:${nn.nnPort}/`) && q.url.includes('op=OPEN')).every((q) => /mmkey=/.test(q.url))).toBe(true);
      recorded.push({
        requests: replicas.flat(),
        origins: {
          [`http://127.0.0.1:${nn.nnPort}`]: 'http://nn1.example.internal:9870',
          [`http://127.0.0.1:${nn.dnPort}`]: 'http://dn7.example.internal:9864',
        },
        marker: `${dn}webhdfs/v1/prod/ranking/model/`,
      });
    } finally {
      await nn.close();
    }
  });

  it('s3://: signed requests carry the header too; --s3-unsigned sends none that a cache must refuse to store', async () => {
    const s3 = await startS3rver('models');
    try {
      await seedObjects(s3, [
        ...Object.entries(files).map(([k, v]) => [`prod/ranking/model/${k}`, v.toString()] as [string, string]),
        ['prod/ranking/donefile', 'x'],
      ]);
      const args = ['--remote', 's3://models/prod/ranking', '--s3-endpoint', s3.directEndpoint, '--s3-force-path-style'];
      const signed = await twoReplicas('s3', args, S3_ENV);
      expectCacheCorrect(signed, '/models/prod/ranking/model/');
      expect(signed[0]!.every((q) => String(q.headers.authorization).startsWith('AWS4-HMAC-SHA256'))).toBe(true);
      const unsigned = await twoReplicas('s3u', [...args, '--s3-unsigned'], {});
      expectCacheCorrect(unsigned, '/models/prod/ranking/model/');
      expect(unsigned.flat().filter((q) => q.headers.authorization !== undefined)).toEqual([]);
      recorded.push({
        requests: unsigned.flat(),
        origins: { [s3.directEndpoint]: 'https://s3.us-east-1.amazonaws.com' },
        marker: '/models/prod/ranking/model/',
      });
    } finally {
      await s3.close();
    }
  });
});

describe('examples/dragonfly/dfdaemon.yaml', () => {
  /** dfdaemon matches a rule against the URL without its query, GET only (proxy/mod.rs find_matching_rule). */
  const rules = async () => {
    const doc = parseYaml(await readFile(path.join(ROOT, 'examples', 'dragonfly', 'dfdaemon.yaml'), 'utf8')) as { proxy: { rules: { regex: string }[] } };
    return doc.proxy.rules.map((r) => new RegExp(r.regex));
  };
  const asProduction = (url: string, origins: Recorded['origins']) => {
    const u = new URL(url);
    const to = origins[u.origin];
    if (!to) throw new Error(`no production origin for ${u.origin}`);
    return `${to}${u.pathname}`;
  };

  it('sends every model-file GET through P2P and nothing else: not the donefile, the listings, the namenode', async () => {
    const rx = await rules();
    expect(recorded.length).toBe(3);
    for (const r of recorded) {
      for (const q of r.requests.filter((x) => x.method === 'GET')) {
        const url = asProduction(q.url, r.origins);
        const p2p = rx.some((re) => re.test(url));
        expect(p2p, `${q.method} ${url}`).toBe(isModelFileGet(q, r.marker));
      }
    }
  });
});
