/**
 * e2e: convergence you can see. `watch --metrics-port` against an HTTP remote
 * reached through a TCP gate the test opens and shuts: /metrics and
 * `status --json` name the served version and fingerprint and the remote's
 * newest; a monitor that cannot reach the remote shows staleness growing from
 * its last good poll; once the remote is back and the new version is served,
 * it is fresh again (0).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, start, type Running } from '../helpers/cli.js';
import { infoLabels, parseMetrics } from '../helpers/metrics.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startHttpFileServer, type HttpFileServer } from '../servers/http.js';
import { freePort, waitFor } from '../servers/ports.js';

/** A TCP port that forwards to `target` while open; shut, it refuses connections (and cuts open ones). */
class Gate {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}
  async open(): Promise<void> {
    this.server = createServer((c) => {
      const up = connect(this.target, '127.0.0.1');
      for (const s of [c, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s)).on('error', () => {});
      }
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async shut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}

let dir: string;
let srv: HttpFileServer;
let gate: Gate;
let mm: Running | null = null;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-fleet-metrics-'));
  await publish(path.join(dir, 'www'), 'model', modelFiles(1));
  srv = await startHttpFileServer(path.join(dir, 'www'));
  gate = new Gate(await freePort(), Number(new URL(srv.url).port));
  await gate.open();
});

afterAll(async () => {
  await mm?.stop('SIGKILL');
  await gate?.shut();
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

it('served / remote versions and staleness on /metrics and in status --json: stale while unreachable, fresh once served', async () => {
  const port = await freePort();
  const flags = [
    '--remote',
    `http://127.0.0.1:${gate.port}/`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    path.join(dir, 'local'),
  ];
  mm = start(['watch', ...flags, '--interval', '0.3', '--retries', '0', '--timeout', '2', '--metrics-port', String(port), '--metrics-host', '127.0.0.1']);
  const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  const status = async () =>
    JSON.parse((await run(['status', '--json', ...flags])).stdout) as {
      served: { version: string; fingerprint: string } | null;
      remoteNewest: { version: string; fingerprint: string } | null;
      stalenessSeconds: number;
      staleSince: string | null;
    };

  // v1 served: both info metrics name it; fresh.
  const v1 = await mm.waitFor((l) => l.event === 'updated', 'version 1');
  await waitFor(async () => infoLabels(await scrape().catch(() => new Map()), 'model_monitor_served_info').length === 1, 'served_info');
  let m = await scrape();
  const [served] = infoLabels(m, 'model_monitor_served_info');
  expect(served!.version).toBe(v1['version']);
  expect(served!.fingerprint).toMatch(/^mtime:\d+;size:\d+;etag:/);
  expect(infoLabels(m, 'model_monitor_remote_info')).toEqual([served]);
  expect(m.get('model_monitor_staleness_seconds')).toBe(0);
  const fresh = await status();
  expect(fresh.served?.version).toBe(v1['version']);
  expect(fresh.remoteNewest?.fingerprint).toBe(served!.fingerprint);
  expect(fresh.stalenessSeconds).toBe(0);

  // The remote goes away: cycles fail, staleness counts from the last good poll and keeps growing.
  await gate.shut();
  await mm.waitFor((l) => l.event === 'sync-failed', 'a failed poll');
  await waitFor(async () => ((await scrape()).get('model_monitor_staleness_seconds') ?? 0) > 0, 'staleness above 0');
  const s1 = (await scrape()).get('model_monitor_staleness_seconds')!;
  await waitFor(async () => (await scrape()).get('model_monitor_staleness_seconds')! > s1 + 1, 'staleness growing', 30_000);
  await waitFor(async () => (await status()).staleSince !== null, 'status --json shows the staleness', 30_000);
  const stale = await status();
  expect(stale.stalenessSeconds).toBeGreaterThan(0);
  expect(stale.served?.version).toBe(v1['version']); // what is served is untouched
  m = await scrape();
  expect(infoLabels(m, 'model_monitor_served_info')).toEqual([served]);

  // A new version while unreachable; then the remote is back: served, fresh again.
  await publish(path.join(dir, 'www'), 'model', modelFiles(2));
  await gate.open();
  mm.child.kill('SIGHUP'); // check now rather than after the failure back-off
  await waitFor(() => mm!.count((l) => l.event === 'updated') >= 2, 'version 2', 30_000);
  await waitFor(async () => (await scrape()).get('model_monitor_staleness_seconds') === 0, 'fresh again');
  m = await scrape();
  const [now] = infoLabels(m, 'model_monitor_served_info');
  expect(now!.version).not.toBe(served!.version);
  expect(infoLabels(m, 'model_monitor_remote_info')).toEqual([now]);
  await waitFor(async () => (await status()).stalenessSeconds === 0, 'status --json fresh again', 30_000);
  expect((await status()).remoteNewest?.version).toBe(now!.version);
  expect(await mm.stop('SIGTERM')).toBe(0);
}, 120_000);
