/**
 * e2e: a fleet pulls through a shared cache tier. A real Squid (Debian's, on
 * 127.0.0.1, memory cache, collapsed_forwarding) in front of an origin
 * serving a 64 MiB model; 50 `watch` monitors through it with --proxy (10
 * real CLI processes, 40 in this process); two versions published with the
 * same paths and sizes. Every monitor serves each version exactly, and the
 * origin sends at most 1.3 × the model's bytes per version, not 50 ×. Once
 * with nginx as the origin (its access log counts $body_bytes_sent), once with
 * the WebHDFS test server (namenode + datanode, which sends no validators).
 *
 * Knobs: MM_FLEET_E2E_MB (default 64), MM_FLEET_E2E_N (default 50), MM_FLEET_E2E_CLI (default 10).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedRecord, startFleet, type Fleet, type Flags } from '../helpers/fleet.js';
import { startNginx, nginxUnavailable, type NginxHandle } from '../servers/nginx.js';
import { waitFor } from '../servers/ports.js';
import { squidMissing, startSquid, type Squid, type SquidLogLine } from '../servers/squid.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

const env = (k: string, d: number) => (Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
const MODEL_BYTES = env('MM_FLEET_E2E_MB', 64) * 1024 * 1024;
const N = env('MM_FLEET_E2E_N', 50);
const CLI = Math.min(N, env('MM_FLEET_E2E_CLI', 10));
const MAX_ORIGIN = 1.3;

const missing = squidMissing() ?? (await nginxUnavailable());
if (missing) console.warn(`fleet cache tests skipped: ${missing}`);

type Expected = Record<string, string>;

/**
 * A producer's publish of version `v`: the same paths and sizes every time (a
 * cached v1 big.bin would pass a size check as v2), each file with an mtime
 * of its own version, the model renamed in, then the donefile in md5sum format.
 */
async function publishVersion(root: string, v: number): Promise<Expected> {
  const small: Record<string, Buffer> = { __model__: Buffer.from(`model version ${v}\n`), 'params/fc_0.b_0': Buffer.from(`bias of version ${v}\n`) };
  const bigBytes = MODEL_BYTES - Object.values(small).reduce((n, b) => n + b.length, 0);
  const tmp = path.join(root, '.model.incoming');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(path.join(tmp, 'params'), { recursive: true });
  const t = Math.floor(Date.now() / 1000) + 100 * v;
  const expected: Expected = {};
  for (const [p, data] of Object.entries(small)) {
    await writeFile(path.join(tmp, p), data);
    expected[p] = createHash('md5').update(data).digest('hex');
  }
  const h = createHash('md5');
  const big = createWriteStream(path.join(tmp, 'params', 'big.bin'));
  for (let left = bigBytes; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1024 * 1024));
    h.update(chunk);
    if (!big.write(chunk)) await new Promise<void>((r) => big.once('drain', () => r()));
    left -= chunk.length;
  }
  await new Promise<void>((resolve, reject) => big.end((err?: Error | null) => (err ? reject(err) : resolve())));
  expected['params/big.bin'] = h.digest('hex');
  for (const p of Object.keys(expected)) await utimes(path.join(tmp, p), t, t);
  await rm(path.join(root, 'model'), { recursive: true, force: true });
  await rename(tmp, path.join(root, 'model'));
  const done = path.join(root, 'donefile');
  await writeFile(
    `${done}.tmp`,
    Object.entries(expected)
      .map(([p, m]) => `${m}  ${p}\n`)
      .join(''),
  );
  await utimes(`${done}.tmp`, t, t);
  await rename(`${done}.tmp`, done);
  return expected;
}

async function md5File(p: string): Promise<string> {
  const h = createHash('md5');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Every member's record names these md5s, and every served file hashes to them. */
async function expectServed(fleet: Fleet, expected: Expected): Promise<void> {
  for (const m of fleet.members) {
    const rec = await servedRecord(m.dir);
    const got = Object.fromEntries((rec?.files ?? []).filter((f) => f.path !== 'fluid_time_file').map((f) => [f.path, f.md5]));
    expect(got, `${m.dir} (${m.kind}) record`).toEqual(expected);
    for (const [p, md5] of Object.entries(expected)) expect(await md5File(path.join(m.dir, 'model', p)), `${m.dir}/model/${p}`).toBe(md5);
  }
}

/** Squid result codes and how often each was logged. */
function codes(lines: readonly SquidLogLine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) out[`${l.code}/${l.status} ${l.hierarchy}`] = (out[`${l.code}/${l.status} ${l.hierarchy}`] ?? 0) + 1;
  return out;
}

interface Origin {
  readonly remote: string;
  readonly flags: Flags;
  /** Body bytes the origin has sent so far. */
  sent(): Promise<number>;
}

/** Publishes two versions to `root` behind `origin`; the fleet pulls each through Squid. */
async function twoVersions(squid: Squid, root: string, origin: Origin, work: string): Promise<{ perVersion: number[] }> {
  const expected1 = await publishVersion(root, 1);
  const flags: Flags = {
    remote: origin.remote,
    'remote-model-name': 'model',
    'remote-donefile-name': 'donefile',
    interval: '1',
    proxy: squid.url,
    'keep-backups': '1',
    timeout: '120',
    ...origin.flags,
  };
  const fleet = await startFleet({ work, cli: CLI, lib: N - CLI, flags });
  const perVersion: number[] = [];
  try {
    await waitFor(() => fleet.atLeast(1) === N, `all ${N} monitors to serve version 1`, 600_000);
    await expectServed(fleet, expected1);
    perVersion.push(await origin.sent());
    const expected2 = await publishVersion(root, 2);
    await waitFor(() => fleet.atLeast(2) === N, `all ${N} monitors to serve version 2`, 600_000);
    await expectServed(fleet, expected2);
    perVersion.push((await origin.sent()) - perVersion[0]!);
  } finally {
    await fleet.stop();
  }
  console.log(
    `fleet of ${N} (${CLI} CLI) through Squid, ${origin.remote.split(':')[0]}: origin bytes per version ${perVersion.map((b) => (b / MODEL_BYTES).toFixed(3)).join(', ')} × the model`,
  );
  return { perVersion };
}

describe.skipIf(missing !== null)(`${N} watch monitors through one Squid`, () => {
  let squid: Squid;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mm-fleet-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('nginx origin: each version reaches every monitor exactly; the origin sends ≤ 1.3 × the model per version', async () => {
    squid = await startSquid();
    const www = path.join(dir, 'www');
    await mkdir(www, { recursive: true });
    let nginx: NginxHandle | null = null;
    try {
      nginx = await startNginx(www, { accessLog: true });
      const log = () => nginx!.accessLog();
      const origin: Origin = { remote: `${nginx.url}/`, flags: {}, sent: async () => (await log()).reduce((n, l) => n + l.bytes, 0) };
      const { perVersion } = await twoVersions(squid, www, origin, path.join(dir, 'nginx-fleet'));
      for (const b of perVersion) expect(b).toBeLessThanOrEqual(MAX_ORIGIN * MODEL_BYTES);
      const lines = await log();
      const cache = await squid.stop();
      console.log(`Squid answers: ${JSON.stringify(codes(cache))}`);
      if (process.env.MM_DEBUG) console.log(cache.map((l) => `${l.time} ${l.elapsedMs} ${l.code}/${l.status} ${l.method} ${l.url}`).join('\n'));
      // Polls were revalidated with the origin (or joined a revalidation in flight), never answered from a stored copy ...
      const polls = cache.filter((l) => l.url.endsWith('/donefile'));
      expect(polls.length).toBeGreaterThanOrEqual(2 * N);
      expect(polls.filter((l) => /^TCP_(MEM_|IMS_)?HIT$/.test(l.code))).toEqual([]);
      expect(lines.some((l) => l.method === 'HEAD' && l.uri === '/donefile' && l.status === 200)).toBe(true);
      // ... and every monitor pulled each version through Squid as version-keyed GETs of whole files.
      expect(cache.filter((l) => l.method === 'GET' && l.url.includes('/model/params/big.bin?mmkey=')).length).toBeGreaterThanOrEqual(2 * N);
      const big = lines.filter((l) => l.method === 'GET' && l.uri.startsWith('/model/params/big.bin'));
      expect(big.length).toBeGreaterThan(0);
      expect(big.every((l) => /[?&]mmkey=/.test(l.uri) && l.status !== 206)).toBe(true);
    } finally {
      await nginx?.close();
      await squid.stop();
    }
  }, 1_200_000);

  it('WebHDFS origin: the same through the namenode and the datanode', async () => {
    squid = await startSquid();
    const root = path.join(dir, 'hdfs');
    await mkdir(path.join(root, 'models'), { recursive: true });
    const srv = await WebHdfsTestServer.start({ root });
    try {
      const origin: Origin = { remote: `${srv.url}/models`, flags: { 'hdfs-user': 'fleet' }, sent: async () => srv.dataBytes };
      const { perVersion } = await twoVersions(squid, path.join(root, 'models'), origin, path.join(dir, 'hdfs-fleet'));
      for (const b of perVersion) expect(b).toBeLessThanOrEqual(MAX_ORIGIN * MODEL_BYTES);
      const cache = await squid.stop();
      console.log(`Squid answers: ${JSON.stringify(codes(cache))}`);
      if (process.env.MM_DEBUG) console.log(cache.map((l) => `${l.time} ${l.elapsedMs} ${l.code}/${l.status} ${l.method} ${l.url}`).join('\n'));
      // Every namenode answer (polls, listings, redirects) came fresh from the namenode or a request in flight ...
      const nn = cache.filter((l) => l.url.includes(`:${srv.nnPort}/`));
      expect(nn.filter((l) => /op=GETFILESTATUS/.test(l.url)).length).toBeGreaterThanOrEqual(2 * N);
      expect(nn.filter((l) => /^TCP_(MEM_|IMS_)?HIT$/.test(l.code))).toEqual([]);
      // ... and every monitor read each version from the datanode through Squid, as version-keyed whole files.
      expect(cache.filter((l) => l.url.includes(`:${srv.dnPort}/`) && l.url.includes('/big.bin?') && l.url.includes('mmkey=')).length).toBeGreaterThanOrEqual(
        2 * N,
      );
      const dn = srv.requests.filter((r) => r.server === 'dn' && r.path.endsWith('/big.bin'));
      expect(dn.length).toBeGreaterThan(0);
      expect(dn.every((r) => r.params.mmkey !== undefined && r.params.length === undefined)).toBe(true);
    } finally {
      await srv.close();
      await squid.stop();
    }
  }, 1_200_000);
});
