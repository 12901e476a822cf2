/**
 * HDFS through the real CLI: WebHDFS (namenode 307 → datanode, a datanode
 * that drops twice mid-file, two namenodes with the first on standby), and
 * Paddle's `--type hdfs --hadoop_bin --fs_name --fs_ugi` over the stand-in
 * `hadoop` client.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree } from '../helpers/producer.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

const FAKE_HADOOP = fileURLToPath(new URL('../servers/hadoop', import.meta.url));
let dir: string;
const servers: WebHdfsTestServer[] = [];
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-hdfs-'))));
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

describe('WebHDFS', () => {
  it('pulls through the datanode redirect; a datanode dropping twice mid-file resumes without re-reading', async () => {
    const root = path.join(dir, 'hdfs');
    const nn = await WebHdfsTestServer.start({ root });
    servers.push(nn);
    const big = randomBytes(6 * 1024 * 1024);
    await publish(path.join(root, 'models'), 'model', modelFiles(1, { 'big.bin': big }));
    nn.dropNext('/models/model/big.bin', 1024 * 1024, 2 * 1024 * 1024);
    const local = path.join(dir, 'local');
    const r = await run(['sync', '--remote', `${nn.url}/models`, ...names, '--local_path', local, '--hdfs-user', 'trainer']);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    expect(Buffer.compare(await readFile(path.join(local, 'model', 'big.bin')), big)).toBe(0);
    const served = await readTree(path.join(local, 'model'));
    delete served['fluid_time_file'];
    delete served['big.bin'];
    const want = asStrings(modelFiles(1));
    expect(served).toEqual(want);
    const total = Object.values(want).reduce((n, s) => n + Buffer.byteLength(s), 0) + big.length;
    expect(nn.dataBytes).toBeLessThan(total + 512 * 1024);
  });

  it('two namenodes in one URL: the first on standby, the pull fails over to the second', async () => {
    const root = path.join(dir, 'hdfs');
    const a = await WebHdfsTestServer.start({ root });
    const b = await WebHdfsTestServer.start({ root });
    servers.push(a, b);
    a.standby = true;
    await publish(path.join(root, 'models'), 'model', modelFiles(2));
    const local = path.join(dir, 'local');
    const r = await run(['sync', '--remote', `webhdfs://127.0.0.1:${a.nnPort},127.0.0.1:${b.nnPort}/models`, ...names, '--local_path', local]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 2\n');
  });
});

describe('Paddle --type hdfs with the Hadoop CLI', () => {
  it('runs `hadoop fs -D fs.default.name=… -D hadoop.job.ugi=…` and serves the model', async () => {
    const root = path.join(dir, 'hdfs');
    await publish(path.join(root, 'models'), 'model', modelFiles(3));
    const local = path.join(dir, 'local');
    const env = { FAKE_HADOOP_ROOT: root, FAKE_HADOOP_FS_NAME: 'hdfs://nn.example:8020', FAKE_HADOOP_UGI: 'trainer,pw' };
    const args = [
      '--type',
      'hdfs',
      '--hadoop_bin',
      FAKE_HADOOP,
      '--fs_name',
      'hdfs://nn.example:8020',
      '--fs_ugi',
      'trainer,pw',
      '--remote_path',
      '/models',
      ...names,
      '--local_path',
      local,
    ];
    const r = await run(['sync', ...args], { env });
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 3\n');
    expect(r.stdout + r.stderr).not.toContain('trainer,pw');
    const wrong = await run(['sync', ...args.map((a) => (a === 'trainer,pw' ? 'trainer,bad' : a))], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout + wrong.stderr).not.toContain('trainer,bad');
    expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 3\n');
  });
});

describe('kserve-init with an hdfs:// URI (the Hadoop CLI)', () => {
  it('hdfs://namenode/path/model pulls through `hadoop fs` into DEST, exit 0', async () => {
    const root = path.join(dir, 'hdfs');
    await publish(path.join(root, 'models'), 'model', modelFiles(4));
    const dest = path.join(dir, 'mnt', 'models');
    const env = { FAKE_HADOOP_ROOT: root, FAKE_HADOOP_FS_NAME: 'hdfs://nn.example:8020' };
    const r = await run(['kserve-init', 'hdfs://nn.example:8020/models/model', dest, '--hadoop_bin', FAKE_HADOOP], { env });
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    expect(await readTree(dest)).toEqual(asStrings(modelFiles(4)));
  });
});
