/**
 * Chunk-level deltas end to end, on every store a monitor reads a published
 * model from: `publish` v1 of a 64 MiB file, the monitor pulls it whole, then
 * `publish` v2 (8 rewritten regions of 1 MiB, 1 MiB inserted in the middle,
 * 4 MiB appended): the monitor builds v2 from its served copy and fetches at
 * most 1.2 × (the changed bytes + the chunk index), and serves v2 byte for
 * byte. Over HTTP the origin's own count (nginx's $body_bytes_sent) is checked
 * too, not only what the monitor says it fetched.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { readPublished } from '../../src/publish/published.js';
import { run, updated, type LogLine } from '../helpers/cli.js';
import { deltaVersions, E2E_DELTA, servedFile, writeModel } from '../helpers/delta.js';
import { startTarget, targetMissing, type Target, type TargetKind } from '../helpers/targets.js';
import { nginxUnavailable, startNginx, type NginxHandle } from '../servers/nginx.js';

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const V = deltaVersions(E2E_DELTA.size, E2E_DELTA);

/** The published v2's chunk index size (bytes), from its manifest. */
async function indexBytes(t: Target): Promise<number> {
  const src = t.source();
  try {
    const pub = await readPublished(src, {
      model: 'model',
      donefile: 'donefile',
      timeoutMs: 20_000,
      retries: 2,
      signal: AbortSignal.timeout(30_000),
      log: silentLogger(),
    });
    return pub!.manifest!.files[0]!.index!.bytes;
  } finally {
    await src.close();
  }
}

const ftpKind: TargetKind = targetMissing('vsftpd') === null ? 'vsftpd' : 'ftp-srv';
const kinds: { name: string; target: TargetKind; http?: boolean }[] = [
  { name: 'file://', target: 'file' },
  { name: `FTP (${ftpKind})`, target: ftpKind },
  { name: 'S3 (s3rver)', target: 's3rver' },
  { name: 'WebHDFS', target: 'webhdfs' },
  { name: 'HTTP (nginx)', target: 'file', http: true },
];

const nginxMissing = await nginxUnavailable();

for (const k of kinds) {
  describe.skipIf(k.http === true && nginxMissing !== null)(`delta pull: ${k.name}`, () => {
    let dir: string;
    let t: Target;
    let ng: NginxHandle | null = null;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'mm-delta-'));
      t = await startTarget(k.target);
      if (k.http) ng = await startNginx(path.dirname(t.disk!), { accessLog: true });
    }, 120_000);
    afterAll(async () => {
      await ng?.close();
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('v2 costs what changed, and the served file is v2 byte for byte', async () => {
      const model = path.join(dir, 'model');
      const local = path.join(dir, 'local');
      const remote = ng ? ['--remote', `${ng.url}/${path.basename(t.disk!)}`] : t.args;
      const sync = ['sync', ...remote, ...names, '--local_path', local, '--concurrency', '4'];
      await writeModel(model, V.v1);
      expect((await run(['publish', model, ...t.args, ...names], { env: t.env, timeoutMs: 120_000 })).code).toBe(0);
      const first = await run(sync, { env: t.env, timeoutMs: 120_000 });
      expect(first.code, first.stderr).toBe(0);
      expect(first.lines.find(updated)!.fetchedBytes).toBeGreaterThanOrEqual(V.v1.length);

      await writeModel(model, V.v2);
      expect((await run(['publish', model, ...t.args, ...names], { env: t.env, timeoutMs: 120_000 })).code).toBe(0);
      const bound = 1.2 * (V.changedBytes + (await indexBytes(t)));
      const logged = ng ? (await ng.accessLog()).length : 0;
      const second = await run(sync, { env: t.env, timeoutMs: 120_000 });
      expect(second.code, second.stderr).toBe(0);
      const u = second.lines.find(updated)!;
      expect(u.fetchedBytes as number).toBeLessThanOrEqual(bound);
      expect(u.fetchedBytes as number).toBeGreaterThanOrEqual(V.changedBytes);
      expect(u.reusedBytes as number).toBeGreaterThanOrEqual(V.v2.length - bound);
      expect(second.lines.some((l: LogLine) => l.event === 'delta')).toBe(true);
      expect((await servedFile(local, 'rename')).equals(V.v2)).toBe(true);
      if (ng) {
        const sent = (await ng.accessLog()).slice(logged).reduce((n, l) => n + l.bytes, 0);
        expect(sent).toBeLessThanOrEqual(bound);
      }
      const st = await run(['status', '--json', '--local_path', local, '--local_model_name', 'model']);
      const doc = JSON.parse(st.stdout) as { lastUpdate: { fetchedBytes: number; reusedBytes: number } };
      expect(doc.lastUpdate).toMatchObject({ fetchedBytes: u.fetchedBytes, reusedBytes: u.reusedBytes });
    }, 300_000);
  });
}
