/**
 * Where each setting comes from: flag > MODEL_MONITOR_* env > --config file
 * (YAML or JSON) > default, in every spelling. Runs main() in-process with
 * --print-config, so nothing touches the network or the model directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sources } from '../../src/sources/index.js';
import { runMain } from '../helpers/main.js';

const ftpRegistered = sources.some((s) => s.schemes.includes('ftp'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BASE = ['--remote', 'file:///srv/models', '--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

const cli = runMain;

/** The effective config as --print-config shows it. */
async function effective(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const r = await cli(['sync', ...args, '--print-config'], env);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

async function configFile(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return f;
}

describe('config precedence: flag > env > config file > default', () => {
  it('uses the defaults when nothing is given', async () => {
    const c = await effective(BASE);
    expect(c['interval']).toBe('10');
    expect(c['local-path']).toBe('.');
    expect(c['local-tmp-path']).toBe('_serving_monitor_tmp');
    expect(c['concurrency']).toBe('4');
  });

  for (const [kind, text] of [
    ['yaml', 'interval: 7\nconcurrency: 3\nlocal_path: /from/file\nkeep-backups: 5\ntouch:\n  - /a\n  - /b\n'],
    ['json', JSON.stringify({ interval: 7, concurrency: 3, local_path: '/from/file', 'keep-backups': 5, touch: ['/a', '/b'] })],
  ] as const) {
    it(`a ${kind} config file beats the defaults, env beats the file, a flag beats env`, async () => {
      const f = await configFile(`layers.${kind}`, text);
      const fromFile = await effective([...BASE, '--config', f]);
      expect(fromFile).toMatchObject({ interval: '7', concurrency: '3', 'local-path': '/from/file', 'keep-backups': '5', touch: ['/a', '/b'] });

      const env = { MODEL_MONITOR_INTERVAL: '5', MODEL_MONITOR_LOCAL_PATH: '/from/env' };
      const fromEnv = await effective([...BASE, '--config', f], env);
      expect(fromEnv).toMatchObject({ interval: '5', concurrency: '3', 'local-path': '/from/env', 'keep-backups': '5' });

      const fromFlag = await effective([...BASE, '--config', f, '--interval', '2', '--local_path', '/from/flag'], env);
      expect(fromFlag).toMatchObject({ interval: '2', concurrency: '3', 'local-path': '/from/flag', 'keep-backups': '5' });
    });
  }

  it('finds the config file through MODEL_MONITOR_CONFIG too', async () => {
    const f = await configFile('env-named.yaml', 'interval: 42\n');
    expect(await effective(BASE, { MODEL_MONITOR_CONFIG: f })).toMatchObject({ interval: '42' });
  });

  it('takes the whole remote from the config file', async () => {
    const f = await configFile('remote.yaml', 'remote: file:///srv/x\nremote_model_name: m\nremote_donefile_name: d\n');
    expect(await effective(['--config', f])).toMatchObject({ remote: 'file:///srv/x', 'remote-model-name': 'm', 'remote-donefile-name': 'd' });
  });

  it('env booleans and flags: --no-x beats MODEL_MONITOR_X=true', async () => {
    expect(await effective(BASE, { MODEL_MONITOR_INCREMENTAL: 'true' })).toMatchObject({ incremental: 'true' });
    expect(await effective([...BASE, '--no-incremental'], { MODEL_MONITOR_INCREMENTAL: 'true' })).toMatchObject({ incremental: 'false' });
  });
});

describe('spellings', () => {
  it('underscore and kebab flags are the same flag, with or without =', async () => {
    for (const args of [['--local_path', '/a'], ['--local-path', '/a'], ['--local_path=/a'], ['--local-path=/a']]) {
      expect(await effective([...BASE, ...args])).toMatchObject({ 'local-path': '/a' });
    }
  });

  it("Paddle Serving's aliases: --ftp_ip, --local_tmp_dir, --local_donefile_name", async () => {
    const c = await effective([...BASE, '--ftp_ip', '10.0.0.1', '--ftp_port', '2121', '--local_tmp_dir', 'tmp', '--local_donefile_name', 'ts_file']);
    expect(c).toMatchObject({ 'ftp-host': '10.0.0.1', 'ftp-port': '2121', 'local-tmp-path': 'tmp', 'local-timestamp-file': 'ts_file' });
  });

  it("Paddle Serving's --type with --remote_path", async () => {
    const c = await effective(['--type', 'file', '--remote_path', '/srv/models', '--remote_model_name', 'model', '--remote_donefile_name', 'donefile']);
    expect(c).toMatchObject({ type: 'file', 'remote-path': '/srv/models' });
  });

  it.skipIf(!ftpRegistered)("Paddle Serving's tutorial flags for FTP (needs the ftp source registered)", async () => {
    const c = await effective([
      '--type',
      'ftp',
      '--ftp_ip',
      '10.0.0.1',
      '--ftp_port',
      '2121',
      '--remote_path',
      '/models',
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_tmp_dir',
      'tmp',
    ]);
    expect(c).toMatchObject({ type: 'ftp', 'ftp-host': '10.0.0.1', 'ftp-port': '2121', 'local-tmp-path': 'tmp' });
  });

  it('config file keys accept every spelling too', async () => {
    const f = await configFile('spell.yaml', 'local_tmp_dir: t1\nlocalModelName: served\nftp_ip: h\n');
    expect(await effective([...BASE, '--config', f])).toMatchObject({ 'local-tmp-path': 't1', 'local-model-name': 'served', 'ftp-host': 'h' });
  });
});

describe('bad input: exit 2 and one line naming what is wrong', () => {
  async function bad(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    const r = await cli(['sync', ...args, '--print-config'], env);
    expect(r.code).toBe(2);
    expect(r.err.endsWith('\n')).toBe(true);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^model-monitor: /);
    return r.err;
  }

  it('an unknown config file key', async () => {
    const f = await configFile('unknown.yaml', 'interval: 3\nintervall: 4\n');
    expect(await bad([...BASE, '--config', f])).toMatch(/unknown key "intervall"/);
  });

  it('a config file that is not a mapping, or does not exist', async () => {
    const f = await configFile('list.yaml', '- a\n- b\n');
    expect(await bad([...BASE, '--config', f])).toMatch(/--config: .*mapping/);
    expect(await bad([...BASE, '--config', path.join(dir, 'missing.yaml')])).toMatch(/--config: cannot read/);
  });

  it('an unknown --type', async () => {
    expect(await bad(['--type', 'gopher', '--remote_path', '/x', '--remote_model_name', 'm', '--remote_donefile_name', 'd'])).toMatch(/--type/);
  });

  it('--type ftp without a host', async () => {
    expect(await bad(['--type', 'ftp', '--remote_path', '/x', '--remote_model_name', 'm', '--remote_donefile_name', 'd'])).toMatch(/--ftp-host/);
  });

  it('--interval that is not a positive number', async () => {
    expect(await bad([...BASE, '--interval', 'abc'])).toMatch(/--interval: .*"abc"/);
    expect(await bad([...BASE, '--interval', '-1'])).toMatch(/--interval: .*-1/);
    expect(await bad([...BASE, '--interval=0'])).toMatch(/--interval/);
  });

  it('a bad value from env or a config file names the flag as well', async () => {
    expect(await bad(BASE, { MODEL_MONITOR_INTERVAL: 'soon' })).toMatch(/--interval/);
    const f = await configFile('bad-value.yaml', 'concurrency: lots\n');
    expect(await bad([...BASE, '--config', f])).toMatch(/--concurrency/);
  });

  it('an unknown flag', async () => {
    expect(await bad([...BASE, '--zzz', '3'])).toMatch(/unknown option '--zzz'/);
  });

  it('an unknown flag close to a known one: still one line, with the suggestion on it', async () => {
    expect(await bad([...BASE, '--intervall', '3'])).toMatch(/--intervall.*--interval/);
  });

  it('a missing remote', async () => {
    expect(await bad(['--remote_model_name', 'm', '--remote_donefile_name', 'd'])).toMatch(/--remote/);
  });
});
