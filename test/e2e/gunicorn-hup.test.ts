/**
 * e2e::gunicorn-hup: a real gunicorn (2 sync workers, Flask app that reads the
 * model when a worker imports it, no --preload) under constant HTTP load from
 * this test; model-monitor runs `watch --swap symlink --signal HUP --pidfile`.
 * Five model updates each reach the workers (responses show the new version)
 * with zero failed requests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, run, start, updated, type Running } from '../helpers/cli.js';
import { freePort, waitFor } from '../servers/ports.js';

const GUNICORN = '/usr/bin/gunicorn';
const PYTHON = '/usr/bin/python3';
const available = existsSync(GUNICORN) && spawnSync(PYTHON, ['-c', 'import flask, gunicorn'], { stdio: 'ignore' }).status === 0;
if (!available) console.warn(`e2e gunicorn-hup skipped: ${GUNICORN} or ${PYTHON} with flask is missing (apt-get install gunicorn python3-flask)`);

const UPDATES = 5;

async function publish(remote: string, k: number): Promise<void> {
  const model = path.join(remote, 'model');
  await fsp.rm(model, { recursive: true, force: true });
  await fsp.mkdir(model, { recursive: true });
  await fsp.writeFile(path.join(model, 'VERSION'), `v${k}\n`);
  await fsp.writeFile(path.join(model, 'weights.bin'), Buffer.alloc(64 * 1024 + k, k));
  const done = path.join(remote, 'donefile');
  // The donefile appears whole, with its final mtime, in one rename (a careful producer's way).
  await fsp.writeFile(`${done}.tmp`, `v${k}\n`);
  const t = Math.floor(Date.now() / 1000) - 10_000 + k * 10; // a distinct mtime per model
  await fsp.utimes(`${done}.tmp`, t, t);
  await fsp.rename(`${done}.tmp`, done);
}

/** One GET on a fresh connection: the body, or throws. */
function fetchVersion(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

interface Load {
  served: number;
  failed: number;
  errors: string[];
  readonly seen: Map<string, number>;
  stop(): Promise<void>;
}

/** `workers` loops of sequential requests until stopped (bounded by count and time). */
function startLoad(port: number, workers = 3, maxRequests = 200_000, maxMs = 170_000): Load {
  let stopping = false;
  const until = Date.now() + maxMs;
  const load: Load = { served: 0, failed: 0, errors: [], seen: new Map(), stop: async () => {} };
  const loop = async () => {
    while (!stopping && Date.now() < until && load.served + load.failed < maxRequests) {
      try {
        const v = await fetchVersion(port);
        load.served++;
        load.seen.set(v, (load.seen.get(v) ?? 0) + 1);
      } catch (err) {
        load.failed++;
        if (load.errors.length < 10) load.errors.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: workers }, loop);
  load.stop = async () => {
    stopping = true;
    await Promise.all(loops);
  };
  return load;
}

describe.skipIf(!available)('e2e: gunicorn reloads the model on SIGHUP', () => {
  let root = '';
  let gunicorn: ChildProcess | null = null;
  let monitor: Running | null = null;

  afterAll(async () => {
    await monitor?.stop();
    if (gunicorn && gunicorn.exitCode === null) {
      const exited = new Promise((r) => gunicorn!.once('exit', r));
      gunicorn.kill('SIGTERM');
      await exited;
    }
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it(`${UPDATES} updates reach both workers under load with 0 failed requests`, async () => {
    root = await fsp.mkdtemp(path.join(tmpdir(), 'mm-gunicorn-'));
    const remote = path.join(root, 'remote');
    const local = path.join(root, 'local');
    const pidfile = path.join(root, 'gunicorn.pid');
    const args = [
      '--remote',
      `file://${remote}`,
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_path',
      local,
      '--swap',
      'symlink',
    ];
    await publish(remote, 0);
    const first = await run(['sync', ...args]);
    expect(first.code, first.stderr + first.stdout).toBe(0);

    const port = await freePort();
    gunicorn = spawn(
      GUNICORN,
      [
        '--workers',
        '2',
        '--bind',
        `127.0.0.1:${port}`,
        '--pid',
        pidfile,
        '--chdir',
        path.join(ROOT, 'test', 'fixtures'),
        '--graceful-timeout',
        '20',
        '--log-level',
        'warning',
        'flask_app:app',
      ],
      {
        env: { ...process.env, MODEL_DIR: path.join(local, 'model'), PYTHONDONTWRITEBYTECODE: '1' },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    await waitFor(async () => existsSync(pidfile) && (await fetchVersion(port).catch(() => '')) === 'v0', 'gunicorn serving v0', 60_000);

    monitor = start(['watch', ...args, '--interval', '0.2', '--signal', 'HUP', '--pidfile', pidfile]);
    await monitor.waitFor((l) => l.event === 'start', 'monitor start');
    const load = startLoad(port);
    const perUpdate: number[] = [];
    try {
      await waitFor(() => load.served >= 5, 'load running on v0', 60_000);
      for (let k = 1; k <= UPDATES; k++) {
        const before = load.served;
        await publish(remote, k);
        await waitFor(() => monitor!.count(updated) >= k, `update ${k} swapped in`, 60_000);
        await waitFor(() => monitor!.count((l) => l.event === 'reload' && l.trigger === 'signal SIGHUP') >= k, `HUP ${k} sent`, 60_000);
        // Every worker has the new model once several fresh connections in a row all answer it.
        await waitFor(
          async () => {
            const vs = await Promise.all(Array.from({ length: 6 }, () => fetchVersion(port)));
            return vs.every((v) => v === `v${k}`);
          },
          `workers serving v${k}`,
          60_000,
        );
        perUpdate.push(load.served - before);
      }
    } finally {
      await load.stop();
    }
    console.log(
      `gunicorn-hup: ${load.served} requests served, ${load.failed} failed; per update ${perUpdate.join(', ')}; versions seen ${JSON.stringify(Object.fromEntries(load.seen))}`,
    );
    expect(load.errors).toEqual([]);
    expect(load.failed).toBe(0);
    expect(load.served).toBeGreaterThan(UPDATES * 10);
    for (let k = 0; k <= UPDATES; k++) expect(load.seen.get(`v${k}`) ?? 0, `responses with v${k}`).toBeGreaterThan(0);
    expect(monitor.count((l) => l.event === 'sync-failed')).toBe(0);
  }, 240_000);
});
