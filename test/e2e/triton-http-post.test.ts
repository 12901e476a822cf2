/**
 * e2e::triton-http-post: a node HTTP server stands in for Triton's model
 * control API (`POST /v2/repository/models/NAME/load`, which loads the highest
 * version dir of NAME). model-monitor runs `watch --swap versioned --http-post
 * … --rollback-on-reload-failure`. Each new version gets exactly one load
 * call; a version the engine refuses (500) is rolled back: its dir goes, the
 * previous version is served again and reloaded, `status --json` says so, and
 * the refused donefile is not pulled again.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, start, updated, type Running } from '../helpers/cli.js';
import { waitFor } from '../servers/ports.js';

async function publish(remote: string, k: number): Promise<void> {
  const model = path.join(remote, 'model');
  await fsp.rm(model, { recursive: true, force: true });
  await fsp.mkdir(model, { recursive: true });
  await fsp.writeFile(path.join(model, 'VERSION'), `v${k}`);
  await fsp.writeFile(path.join(model, 'model.onnx'), Buffer.alloc(100_000 + k, k));
  const done = path.join(remote, 'donefile');
  // The donefile appears whole, with its final mtime, in one rename (a careful producer's way).
  await fsp.writeFile(`${done}.tmp`, `v${k}\n`);
  const t = Math.floor(Date.now() / 1000) - 10_000 + k * 10;
  await fsp.utimes(`${done}.tmp`, t, t);
  await fsp.rename(`${done}.tmp`, done);
}

/** What Triton would load: the highest numeric dir's model. */
async function highest(base: string): Promise<{ n: number; version: string }> {
  const n = Math.max(...(await fsp.readdir(base)).filter((x) => /^\d+$/.test(x)).map(Number));
  return { n, version: await fsp.readFile(path.join(base, String(n), 'VERSION'), 'utf8') };
}

interface LoadCall {
  readonly url: string;
  readonly loaded: string;
  readonly status: number;
}

/** Triton's load endpoint: answers 500 ("failed to load") for the model versions in `broken`. */
async function fakeTriton(base: string, broken: Set<string>): Promise<{ server: Server; url: string; calls: LoadCall[] }> {
  const calls: LoadCall[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/v2/repository/models/model/load') {
          res.statusCode = 404;
          return res.end('{"error":"not found"}');
        }
        const { version } = await highest(base);
        const status = broken.has(version) ? 500 : 200;
        calls.push({ url: req.url, loaded: version, status });
        res.statusCode = status;
        res.end(status === 200 ? '' : `{"error":"failed to load 'model' version: ${version} is broken"}`);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/repository/models/model/load`, calls };
}

describe('e2e: Triton reload over HTTP, with rollback on a failed load', () => {
  let root = '';
  let monitor: Running | null = null;
  let server: Server | null = null;
  afterAll(async () => {
    await monitor?.stop();
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it('one load call per new version; a refused version is rolled back', async () => {
    root = await fsp.mkdtemp(path.join(tmpdir(), 'mm-triton-'));
    const remote = path.join(root, 'remote');
    const local = path.join(root, 'local');
    const base = path.join(local, 'model');
    const broken = new Set(['v4']);
    const triton = await fakeTriton(base, broken);
    server = triton.server;
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
      'versioned',
    ];
    await publish(remote, 1);
    monitor = start(['watch', ...args, '--interval', '0.1', '--http-post', triton.url, '--rollback-on-reload-failure', '--log-level', 'debug']);
    for (let k = 1; k <= 3; k++) {
      if (k > 1) await publish(remote, k);
      await waitFor(() => monitor!.count(updated) >= k, `update ${k}`, 60_000);
    }
    expect(triton.calls.map((c) => [c.loaded, c.status])).toEqual([
      ['v1', 200],
      ['v2', 200],
      ['v3', 200],
    ]);
    const v3 = monitor.lines.filter(updated)[2]!.version as string;

    // v4 is swapped in, Triton refuses it: the monitor removes version dir 4 and reloads v3.
    await publish(remote, 4);
    const failed = await monitor.waitFor((l) => l.event === 'sync-failed', 'the failed reload of v4', 60_000);
    expect(JSON.stringify(failed.err)).toMatch(/rolled back to/);
    expect(triton.calls.slice(3).map((c) => [c.loaded, c.status])).toEqual([
      ['v4', 500],
      ['v3', 200],
    ]);
    expect(await highest(base)).toEqual({ n: 3, version: 'v3' });
    const v4Change = monitor.lines.filter((l) => l.event === 'change').at(-1)!;

    const status = JSON.parse((await promisify(execFile)(process.execPath, [BIN, 'status', '--json', ...args])).stdout) as {
      served: { version: string };
      rejected: { fingerprint: string } | null;
      backups: unknown[];
    };
    expect(status.served.version).toBe(v3);
    expect(status.rejected?.fingerprint).toBe(v4Change.fingerprint);
    expect(status.backups).toHaveLength(1); // v2: the v4 swap pruned v1 (keep 2), the rollback took v4 away

    // The refused donefile is not pulled again: a few more cycles go by without a call.
    const skipped = (l: { event?: string; outcome?: unknown }) => l.event === 'cycle' && l.outcome === 'skipped-rejected';
    await monitor.waitFor((l) => skipped(l) && monitor!.count(skipped) >= 3, 'three more cycles', 30_000);
    expect(triton.calls).toHaveLength(5);

    // A good v5 goes in as version 5: number 4 is never reused.
    await publish(remote, 5);
    await waitFor(() => monitor!.count(updated) >= 4, 'update 5', 60_000);
    expect(triton.calls.slice(5).map((c) => [c.loaded, c.status])).toEqual([['v5', 200]]);
    expect(await highest(base)).toEqual({ n: 5, version: 'v5' });
    expect((await fsp.readdir(base)).sort()).toEqual(['2', '3', '5']);
  }, 180_000);
});
