/**
 * A fleet pulls through an existing caching / P2P layer: HTTP-based sources
 * honour HTTP_PROXY / NO_PROXY. Pulled through a real proxy (Debian's
 * tinyproxy) on 127.0.0.1; its log shows the model's requests went through it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startHttpFileServer } from '../servers/http.js';
import { seedObjects, startS3rver } from '../servers/s3rver.js';
import { startTinyproxy, tinyproxyMissing, type Tinyproxy } from '../servers/tinyproxy.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

const missing = tinyproxyMissing();
if (missing) console.warn(`proxy tests skipped: ${missing}`);

describe.skipIf(missing !== null)('pulls through HTTP_PROXY', () => {
  let proxy: Tinyproxy;
  let dir: string;
  beforeAll(async () => {
    proxy = await startTinyproxy();
    dir = await mkdtemp(path.join(tmpdir(), 'mm-proxy-'));
  });
  afterAll(async () => {
    await proxy?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const env = () => ({ HTTP_PROXY: proxy.url, http_proxy: proxy.url, NO_PROXY: '', no_proxy: '' });
  const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

  it('http:// (autoindex)', async () => {
    const root = path.join(dir, 'www');
    await publish(root, 'model', modelFiles(1));
    const srv = await startHttpFileServer(root);
    try {
      const local = path.join(dir, 'l-http');
      const r = await run(['sync', '--remote', `${srv.url}/`, ...names, '--local_path', local], { env: env() });
      expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
      expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
      expect((await proxy.requests()).filter((q) => q.includes('/model/params/fc_0.w_0')).length).toBeGreaterThan(0);
    } finally {
      await srv.close();
    }
  });

  it('s3:// (S3-compatible endpoint)', async () => {
    const s3 = await startS3rver('models');
    try {
      const files = modelFiles(2);
      await seedObjects(s3, [...Object.entries(files).map(([k, v]) => [`prod/model/${k}`, v.toString()] as [string, string]), ['prod/donefile', 'x']]);
      const local = path.join(dir, 'l-s3');
      const r = await run(
        ['sync', '--remote', 's3://models/prod', '--s3-endpoint', s3.directEndpoint, '--s3-force-path-style', ...names, '--local_path', local],
        {
          env: { ...env(), AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
        },
      );
      expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
      expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 2\n');
      expect((await proxy.requests()).filter((q) => q.includes('/models/prod/model/')).length).toBeGreaterThan(0);
    } finally {
      await s3.close();
    }
  });

  it('webhdfs:// (namenode and datanode)', async () => {
    const root = path.join(dir, 'hdfs');
    await publish(path.join(root, 'models'), 'model', modelFiles(3));
    const nn = await WebHdfsTestServer.start({ root });
    try {
      const local = path.join(dir, 'l-hdfs');
      const r = await run(['sync', '--remote', `${nn.url}/models`, ...names, '--local_path', local], { env: env() });
      expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
      expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 3\n');
      const reqs = await proxy.requests();
      expect(reqs.some((q) => q.includes(`:${nn.dnPort}/webhdfs/v1/models/model/`))).toBe(true);
    } finally {
      await nn.close();
    }
  });
});
