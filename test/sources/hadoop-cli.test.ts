import { writeLargeFile } from '../helpers/large.js';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, HadoopCliError, MonitorError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { hadoopCli } from '../../src/sources/hadoop-cli.js';
import type { RemoteEntry, Source } from '../../src/sources/types.js';
import { digest, runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { isAlive } from '../helpers/checks.js';
import { freePort, waitFor } from '../servers/ports.js';
import { parseWith, sourceWith } from '../helpers/source.js';

const FAKE_HADOOP = fileURLToPath(new URL('../servers/hadoop', import.meta.url));
const signal = () => AbortSignal.timeout(60_000);
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

interface Cluster {
  readonly dir: string;
  readonly data: string;
  readonly fsName: string;
  readonly ugi: string;
  readonly argvLog: string;
  readonly control: string;
  /** A `hadoop` wrapper script that runs the stand-in over this cluster (as a real install's bin/hadoop wraps java). */
  bin(env?: Record<string, string>): Promise<string>;
  source(o?: { fsName?: string; ugi?: string; bin?: string; timeoutMs?: number }): Source;
}

async function cluster(): Promise<Cluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-hadoop-'));
  const root = path.join(dir, 'fs');
  const data = path.join(root, 'user', 'model dir');
  await mkdir(data, { recursive: true });
  const c = {
    dir,
    data,
    fsName: `hdfs://127.0.0.1:${await freePort()}`,
    ugi: 'paddle,s3cr3t-pass',
    argvLog: path.join(dir, 'argv.jsonl'),
    control: path.join(dir, 'control.json'),
    defaultBin: '',
    async bin(env: Record<string, string> = {}): Promise<string> {
      const all = {
        FAKE_HADOOP_ROOT: root,
        FAKE_HADOOP_FS_NAME: c.fsName,
        FAKE_HADOOP_UGI: c.ugi,
        FAKE_HADOOP_ARGV_LOG: c.argvLog,
        FAKE_HADOOP_CONTROL: c.control,
        ...env,
      };
      const lines = Object.entries(all).map(([k, v]) => `export ${k}='${v}'`);
      const file = path.join(dir, `hadoop-${Object.keys(env).join('-') || 'default'}`);
      await writeFile(file, `#!/bin/sh\n${lines.join('\n')}\nexec /usr/bin/python3 '${FAKE_HADOOP}' "$@"\n`);
      await chmod(file, 0o755);
      return file;
    },
    source(o: { fsName?: string; ugi?: string; bin?: string; timeoutMs?: number } = {}): Source {
      const raw = { 'hadoop-bin': o.bin ?? c.defaultBin, 'fs-name': o.fsName ?? c.fsName, 'fs-ugi': o.ugi ?? c.ugi };
      const deps = { log: silentLogger(), timeoutMs: o.timeoutMs ?? 30_000, concurrency: 4 };
      return sourceWith(hadoopCli, 'hdfs:///user/model%20dir', raw, deps);
    },
  };
  c.defaultBin = await c.bin();
  return c;
}

const putLarge = writeLargeFile;

async function harness(): Promise<SourceHarness> {
  const c = await cluster();
  const local = (p: string) => path.join(c.data, ...p.split('/'));
  return {
    async put(p, data) {
      await mkdir(path.dirname(local(p)), { recursive: true });
      await writeFile(local(p), data);
    },
    putLarge: (p, size) => putLarge(local(p), size),
    remove: (p) => rm(local(p), { force: true }),
    source: () => c.source(),
    unreachable: () => c.source({ fsName: 'hdfs://127.0.0.1:1' }),
    dropNextDownload(p, after) {
      // synchronous: the download that follows must see it
      writeFileSync(c.control, JSON.stringify({ drops: { [`/user/model dir/${p}`]: [after] } }));
    },
    close: () => rm(c.dir, { recursive: true, force: true }),
  };
}

runSourceSuite('hadoop CLI (stand-in hadoop fs over a local dir)', harness);

describe('hadoop CLI: Paddle flags, argv, failures', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster();
    await writeFile(path.join(c.data, 'donefile'), 'done');
    await mkdir(path.join(c.data, 'm', '[weird] {name}'), { recursive: true });
    await writeFile(path.join(c.data, 'm', '[weird] {name}', 'x*?.bin'), 'glob');
  });
  afterAll(async () => {
    await rm(c?.dir, { recursive: true, force: true });
  });

  it('passes -D fs.default.name and -D hadoop.job.ugi before the command, as argv', async () => {
    await rm(c.argvLog, { force: true });
    const src = c.source();
    expect(await src.stat('donefile', { signal: signal() })).toMatchObject({ size: 4, isDirectory: false });
    const argv = (await readFile(c.argvLog, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    expect(argv[0]).toEqual(['fs', '-D', `fs.default.name=${c.fsName}`, '-D', `hadoop.job.ugi=${c.ugi}`, '-stat', '%b %Y %F', '/user/model dir/donefile']);
  });

  it('paddle spellings parse; fs-name comes from an hdfs:// URL when not given', () => {
    const o = parseWith(hadoopCli, 'hdfs://nn.example:8020/models/a', { 'hadoop-bin': '/opt/hadoop/bin/hadoop' });
    expect(o).toMatchObject({ bin: '/opt/hadoop/bin/hadoop', fsName: 'hdfs://nn.example:8020', root: '/models/a' });
    expect(o.ugi).toBeUndefined();
    expect(parseWith(hadoopCli, 'afs:///x').bin).toBe('hadoop');
    expect(() => parseWith(hadoopCli, 'afs:///x', { 'fs-ugi': 'a,b\nc' })).toThrow(/--fs-ugi/);
  });

  it('glob characters and spaces in names are taken literally', async () => {
    const src = c.source();
    const got: RemoteEntry[] = [];
    for await (const e of src.list('m', { signal: signal() })) got.push(e);
    expect(got.map((e) => [e.path, e.size])).toEqual([['[weird] {name}/x*?.bin', 4]]);
    expect((await digest(src, 'm/[weird] {name}/x*?.bin')).md5).toBe(md5('glob'));
  });

  it('a Hadoop 1 client without -ls -R: falls back to -lsr, and remembers', async () => {
    await rm(c.argvLog, { force: true });
    const src = c.source({ bin: await c.bin({ FAKE_HADOOP_V1: '1' }) });
    for (let i = 0; i < 2; i++) {
      const got: RemoteEntry[] = [];
      for await (const e of src.list('m', { signal: signal() })) got.push(e);
      expect(got.map((e) => e.path)).toEqual(['[weird] {name}/x*?.bin']);
    }
    const cmds = (await readFile(c.argvLog, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as string[]).slice(5, 7).join(' '));
    expect(cmds).toEqual(['-ls -R', '-lsr /user/model dir/m', '-lsr /user/model dir/m']);
  });

  it('a wrong ugi is an AuthError, and the password never shows in the message', async () => {
    const src = c.source({ ugi: 'paddle,wrong-pass' });
    const err = await src.stat('donefile', { signal: signal() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(String((err as Error).message)).toMatch(/Permission denied/);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toMatch(/wrong-pass|s3cr3t/);
  });

  it('a missing hadoop binary is a clear, non-retryable HadoopCliError', async () => {
    const err = await c
      .source({ bin: path.join(c.dir, 'no-such-hadoop') })
      .stat('donefile', { signal: signal() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HadoopCliError);
    expect((err as HadoopCliError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/cannot run .*no-such-hadoop.*ENOENT/);
  });

  it('a hanging client is killed at the timeout: retryable HadoopCliError', async () => {
    const src = c.source({ bin: await c.bin({ FAKE_HADOOP_HANG: '1' }), timeoutMs: 1_500 });
    const err = await src.stat('donefile', { signal: signal() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HadoopCliError);
    expect((err as MonitorError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/timed out/);
    const cat = await digest(src, 'donefile').catch((e: unknown) => e);
    expect(cat).toBeInstanceOf(HadoopCliError);
    expect((cat as Error).message).toMatch(/timed out/);
  });

  it('a download abandoned by the reader kills the hadoop process', async () => {
    await writeFile(path.join(c.data, 'big.bin'), randomBytes(8 * 1024 * 1024));
    const pidLog = path.join(c.dir, 'pids');
    const src = c.source({ bin: await c.bin({ FAKE_HADOOP_PID_LOG: pidLog }) });
    const stream = await src.open('big.bin', { signal: signal() });
    const first = await new Promise<Buffer>((res) => stream.once('data', res));
    expect(first.length).toBeGreaterThan(0);
    stream.destroy();
    const pid = Number((await readFile(pidLog, 'utf8')).trim());
    await waitFor(() => !isAlive(pid), 'the hadoop child to exit', 20_000);
  });
});
