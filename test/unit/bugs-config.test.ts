/**
 * Bad input that reached a backend as raw strings before the option table
 * drove parsing (issue 14): each case runs the real CLI entry point in-process.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebHdfsTestServer } from '../servers/webhdfs.js';
import { runMain } from '../helpers/main.js';

const cli = runMain;

const MODEL = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

describe('a --remote with bad percent-encoding is a ConfigError naming --remote (exit 2), for every source', () => {
  it.each([
    ['file', 'file:///tmp/%zz'],
    ['s3', 's3://bucket/a%zz'],
    ['http user', 'http://%zz:pw@127.0.0.1:1/m'],
    ['http password', 'http://u:%zz@127.0.0.1:1/m'],
    ['ftp', 'ftp://127.0.0.1:1/%zz'],
    ['webhdfs', 'webhdfs://127.0.0.1:1/%zz'],
    ['hdfs (hadoop CLI)', 'hdfs:///%zz'],
  ])('%s: %s', async (_what, remote) => {
    const r = await cli(['sync', '--remote', remote, ...MODEL, '--print-config']);
    expect(r.code).toBe(2);
    // (a password in a URL flag is warned about first: it shows in ps)
    const lines = r.err
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('model-monitor: warning: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^model-monitor: --remote: bad percent-encoding/);
    expect(r.err).not.toMatch(/internal error|URIError/);
  });
});

describe('one boolean rule for every option of every source', () => {
  let dir: string;
  let srv: WebHdfsTestServer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mm-bools-'));
    await mkdir(path.join(dir, 'remote', 'model'), { recursive: true });
    await writeFile(path.join(dir, 'remote', 'model', 'a.bin'), 'aaaa');
    await writeFile(path.join(dir, 'remote', 'donefile'), '1');
    srv = await WebHdfsTestServer.start({ root: dir });
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['MODEL_MONITOR_HDFS_NOREDIRECT', 'hdfs-noredirect'],
    ['MODEL_MONITOR_S3_FORCE_PATH_STYLE', 's3-force-path-style'],
    ['MODEL_MONITOR_FTP_INSECURE_TLS', 'ftp-insecure-tls'],
    ['MODEL_MONITOR_FSYNC', 'fsync'],
  ])('%s=maybe is refused, naming --%s, whatever the remote', async (name, flag) => {
    const r = await cli(['sync', '--remote', `${srv.url}/remote`, ...MODEL, '--print-config'], { [name]: 'maybe' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^model-monitor: --${flag} \\(${name}\\): expected true or false, got "maybe"`));
  });

  it('MODEL_MONITOR_HDFS_NOREDIRECT=1 asks the namenode for noredirect=true', async () => {
    const local = path.join(dir, 'local');
    const r = await cli(['sync', '--remote', `${srv.url}/remote`, ...MODEL, '--local_path', local, '--log-level', 'silent', '--hdfs-user', 'u'], {
      MODEL_MONITOR_HDFS_NOREDIRECT: '1',
    });
    expect(r.code, r.err).toBe(0);
    const opens = srv.requests.filter((q) => q.server === 'nn' && q.op === 'OPEN');
    expect(opens.length).toBeGreaterThan(0);
    expect(opens.every((q) => q.params['noredirect'] === 'true')).toBe(true);
  });
});
