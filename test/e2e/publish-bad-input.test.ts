/**
 * publish refuses bad input with a clear one-line error and exit 2 before any
 * upload (no such PATH, a read-only source, a remote model publish did not
 * write), and a failed upload exits 1 with nothing new published: the
 * previous version, if any, stays published and whole.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { exists, readTree } from '../helpers/producer.js';
import { writeVersion } from '../helpers/publisher.js';
import { startVsftpd, vsftpdMissing } from '../servers/vsftpd.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-pubbad-'));
  model = path.join(dir, 'model');
  await writeVersion(model, 1, 4096);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('publish: bad input is exit 2, before any upload', () => {
  it('a PATH that does not exist', async () => {
    const remote = path.join(dir, 'r1');
    const r = await run(['publish', path.join(dir, 'nope'), '--remote', `file://${remote}`, ...names]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^model-monitor: publish: .*nope does not exist\n$/);
    expect(await exists(remote)).toBe(false);
  });

  it('an empty directory', async () => {
    await mkdir(path.join(dir, 'empty'));
    const r = await run(['publish', path.join(dir, 'empty'), '--remote', `file://${path.join(dir, 'r2')}`, ...names]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no files; refusing to publish an empty model/);
  });

  it('HTTP: read-only', async () => {
    const r = await run(['publish', model, '--remote', 'http://127.0.0.1:9/models', ...names]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^model-monitor: --remote: http:\/\/127\.0\.0\.1:9\/models is read-only for publish .* publish to file:\/\/, ftp:\/\/, s3:\/\/ or webhdfs:\/\/\n$/,
    );
  });

  it('a remote model that publish did not write is left alone', async () => {
    const remote = path.join(dir, 'r3');
    await mkdir(path.join(remote, 'model'), { recursive: true });
    await writeFile(path.join(remote, 'model', '__model__'), 'a hand-made model');
    await writeFile(path.join(remote, 'donefile'), '1700000000\n');
    const r = await run(['publish', model, '--remote', `file://${remote}`, ...names]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^model-monitor: --remote_model_name: the remote model holds model\/__model__, which publish did not write/); // named as typed
    expect(await readTree(remote)).toEqual({ donefile: '1700000000\n', 'model/__model__': 'a hand-made model' });
  });

  it('a missing --remote_donefile_name', async () => {
    const r = await run(['publish', model, '--remote', `file://${dir}/r4`, '--remote_model_name', 'model']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--remote-donefile-name: required/);
  });
});

describe('publish: a failed upload is exit 1, nothing new published', () => {
  it.skipIf(vsftpdMissing() !== null)('a read-only FTP server', async () => {
    const srv = await startVsftpd();
    try {
      const r = await run(['publish', model, '--remote', `ftp://127.0.0.1:${srv.port}/`, ...names, '--retries', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^model-monitor: upload .* refused the write \(550 Permission denied.\); is the remote path writable for user "anonymous"\?\n$/);
      expect(await readdir(srv.root)).toEqual([]);
    } finally {
      await srv.stop();
      await rm(srv.root, { recursive: true, force: true });
    }
  });

  it('a namenode gone to standby: the previous version stays published and whole', async () => {
    const root = path.join(dir, 'hdfs');
    await mkdir(root);
    const srv = await WebHdfsTestServer.start({ root });
    try {
      const args = ['--remote', `${srv.url}/models`, '--hdfs-user', 'alice', ...names, '--retries', '1'];
      expect((await run(['publish', model, ...args])).code).toBe(0);
      const before = await readTree(path.join(root, 'models'));
      await writeVersion(model, 2, 4096);
      srv.standby = true;
      const r = await run(['publish', model, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/StandbyException/);
      srv.standby = false;
      expect((await readTree(path.join(root, 'models'))).donefile).toBe(before.donefile);
      const local = path.join(dir, 'served');
      expect((await run(['sync', '--remote', `${srv.url}/models`, '--hdfs-user', 'alice', ...names, '--local_path', local])).code).toBe(0);
      expect((await readTree(path.join(local, 'model')))['__model__']).toBe('model version 1\n');
    } finally {
      await srv.close();
    }
  });
});
