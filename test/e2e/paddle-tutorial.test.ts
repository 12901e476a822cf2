/**
 * Paddle Serving's hot-loading tutorial, run as written with `model-monitor`
 * in place of `python -m paddle_serving_server.monitor`, against
 * `python3 -m pyftpdlib` serving remote_path: the model is pulled at start and
 * again after every donefile touch, and fluid_time_file moves forward each time.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree } from '../helpers/producer.js';
import { worldReadableTempDir, type FtpTestServer } from '../servers/ftp-srv.js';
import { waitFor } from '../servers/ports.js';
import { pyftpdlibMissing, startPyftpdlib } from '../servers/pyftpdlib.js';

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* the group is gone */
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes still carrying this test's marker (.ci/leaks.mjs, which .ci/run also runs after the whole suite). */
function leftBehind(marker: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, '.ci', 'leaks.mjs'), '--marker', marker, '--wait', '10', '--json'], (_err, stdout) =>
      resolve((JSON.parse(stdout || '[]') as { cmd: string }[]).map((p) => p.cmd)),
    );
  });
}

const missing = pyftpdlibMissing();
if (missing) console.warn(`paddle tutorial test skipped: ${missing}`);

describe.skipIf(missing !== null)('the Paddle Serving tutorial command', () => {
  let srv: FtpTestServer;
  let local: string;
  beforeAll(async () => {
    srv = await startPyftpdlib();
    local = await worldReadableTempDir('mm-tutorial-local-');
  });
  afterAll(async () => {
    await srv?.stop();
    await rm(srv.root, { recursive: true, force: true });
    await rm(local, { recursive: true, force: true });
  });

  it('pulls at start and after every donefile touch', async () => {
    await publish(srv.root, 'uci_housing_model', modelFiles(1));
    await mkdir(local, { recursive: true });
    const cmd =
      `${process.execPath} ${BIN} --type='ftp' --ftp_ip='127.0.0.1' --ftp_port='${srv.port}' --remote_path='/' ` +
      `--remote_model_name='uci_housing_model' --remote_donefile_name='donefile' --local_path='./' ` +
      `--local_model_name='uci_housing_model' --local_donefile_name='fluid_time_file' --local_tmp_dir='tmp' --interval=0.1`;
    // Its own process group: the shell and the model-monitor it starts are ended together below.
    const marker = randomUUID();
    const child = spawn('/bin/sh', ['-c', cmd], {
      cwd: local,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MODEL_MONITOR_LOG_FORMAT: 'json', MM_TEST_RUN: marker },
    });
    const exited = new Promise((r) => child.once('exit', r));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const served = path.join(local, 'uci_housing_model');
    const ts = path.join(served, 'fluid_time_file');
    const content = async () => readFile(path.join(served, '__model__'), 'utf8').catch(() => '');
    try {
      let lastStamp = 0;
      for (let n = 1; n <= 3; n++) {
        if (n > 1) await publish(srv.root, 'uci_housing_model', modelFiles(n));
        await waitFor(async () => (await content()) === `model version ${n}\n`, `version ${n} served; log:\n${out}`, 30_000);
        await waitFor(async () => Math.floor(((await stat(ts).catch(() => null))?.mtimeMs ?? 0) / 1000) > lastStamp, 'timestamp file touched');
        const tree = await readTree(served);
        const stamp = Number(tree['fluid_time_file']);
        expect(stamp).toBeGreaterThan(lastStamp);
        expect(Math.floor((await stat(ts)).mtimeMs / 1000)).toBe(stamp);
        lastStamp = stamp;
        delete tree['fluid_time_file'];
        expect(tree).toEqual(asStrings(modelFiles(n)));
      }
      // the staging dir is the tutorial's ./tmp, under local_path
      expect((await stat(path.join(local, 'tmp'))).isDirectory()).toBe(true);
    } finally {
      // SIGTERM to the group, not just to `sh`: model-monitor is sh's child, and would outlive it polling a dead port.
      signalGroup(child.pid!, 'SIGTERM');
      await exited;
      await waitFor(() => !groupAlive(child.pid!), 'the tutorial command and its model-monitor to exit', 30_000).catch(() =>
        signalGroup(child.pid!, 'SIGKILL'),
      );
    }
    expect(await leftBehind(marker)).toEqual([]);
  });
});
