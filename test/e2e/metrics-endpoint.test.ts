/**
 * e2e: `watch --metrics-port` serves /healthz, /readyz and /metrics that follow
 * the real cycles: not ready before the first model, ready after a good sync,
 * not ready after a failed one (remote model gone while the donefile changed),
 * ready again after the next good one; counters move with each cycle.
 * Needs `npm run build` first.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Running } from '../helpers/cli.js';
import { parseMetrics } from '../helpers/metrics.js';
import { freePort, waitFor } from '../servers/ports.js';

let dir: string;
let remote: string;
let local: string;
let port: number;
let mm: Running | null = null;
let donefileTime = Math.floor(Date.now() / 1000) - 3600;

const base = () => `http://127.0.0.1:${port}`;
const status = async (p: string) => (await fetch(`${base()}${p}`)).status;
const scrape = async () => parseMetrics(await (await fetch(`${base()}/metrics`)).text());
const metric = async (name: string) => (await scrape()).get(name);

async function publishModel(files: Record<string, string>): Promise<void> {
  await mkdir(path.join(remote, 'model'), { recursive: true });
  for (const [name, body] of Object.entries(files)) await writeFile(path.join(remote, 'model', name), body);
}

/** A new donefile: new size and a new mtime, whole seconds apart from the last. */
async function bumpDonefile(tag: string): Promise<void> {
  donefileTime += 10;
  const f = path.join(remote, 'donefile');
  await writeFile(f, `${tag} ${donefileTime}\n`);
  await utimes(f, donefileTime, donefileTime);
}

async function waitStatus(p: string, want: number, what: string): Promise<void> {
  await waitFor(async () => (await status(p).catch(() => 0)) === want, `${p} → ${want} (${what})`, 30_000);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-metrics-e2e-'));
  remote = path.join(dir, 'remote');
  local = path.join(dir, 'local');
  await mkdir(remote, { recursive: true });
  port = await freePort();
});

afterAll(async () => {
  await mm?.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('watch --metrics-port', () => {
  it('serves /healthz, /readyz and /metrics that follow each cycle', async () => {
    mm = start([
      'watch',
      '--remote',
      `file://${remote}`,
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_path',
      local,
      '--interval',
      '0.2',
      '--retries',
      '0',
      '--metrics-port',
      String(port),
      '--metrics-host',
      '127.0.0.1',
    ]);

    // Alive at once; not ready while there is no model.
    await waitStatus('/healthz', 200, 'process up');
    expect(await status('/readyz')).toBe(503);
    expect(await status('/nope')).toBe(404);
    await waitFor(async () => ((await metric('model_monitor_syncs_total{outcome="no_donefile"}')) ?? 0) >= 2, 'two no-donefile cycles counted');
    const before = await scrape();
    expect(before.get('model_monitor_syncs_total{outcome="updated"}')).toBe(0);
    expect(before.get('model_monitor_fetched_bytes_total')).toBe(0);
    expect(before.get('model_monitor_poll_requests_total')).toBeGreaterThanOrEqual(2);
    expect(before.has('model_monitor_served_model_age_seconds')).toBe(false);
    expect(await status('/readyz')).toBe(503);

    // A good sync: ready; bytes and files counted.
    await publishModel({ 'a.bin': 'a'.repeat(1000), 'b.bin': 'b'.repeat(234) });
    await bumpDonefile('v1');
    await mm.waitFor((l) => l.event === 'updated', 'the first model');
    await waitStatus('/readyz', 200, 'after the first model');
    const after = await scrape();
    expect(after.get('model_monitor_syncs_total{outcome="updated"}')).toBe(1);
    expect(after.get('model_monitor_fetched_bytes_total')).toBe(1234);
    expect(after.get('model_monitor_fetched_files_total')).toBe(2);
    expect(after.get('model_monitor_poll_requests_total')).toBeGreaterThan(before.get('model_monitor_poll_requests_total')!);
    expect(after.get('model_monitor_served_model_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(after.get('model_monitor_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(after.get('model_monitor_consecutive_failures')).toBe(0);
    expect(after.get('model_monitor_cycle_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(after.get('model_monitor_phase_duration_seconds_count{phase="fetch"}')).toBe(1);
    expect(after.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // The remote model disappears while the donefile changes: the sync fails, not ready; the served model stays.
    await rm(path.join(remote, 'model'), { recursive: true, force: true });
    await bumpDonefile('v2-broken');
    await waitStatus('/readyz', 503, 'after a failed sync');
    expect(await status('/healthz')).toBe(200);
    const failed = await scrape();
    expect(failed.get('model_monitor_syncs_total{outcome="failed"}')).toBeGreaterThanOrEqual(1);
    expect(failed.get('model_monitor_consecutive_failures')).toBeGreaterThanOrEqual(1);
    expect(failed.get('model_monitor_served_model_age_seconds')).toBeGreaterThanOrEqual(0);

    // The producer fixes it: ready again, counters move on.
    await publishModel({ 'a.bin': 'A'.repeat(2000) });
    await bumpDonefile('v3');
    mm.child.kill('SIGHUP'); // check now rather than after the failure back-off
    await waitFor(() => mm!.count((l) => l.event === 'updated') >= 2, 'the second model', 30_000);
    await waitStatus('/readyz', 200, 'after the next good sync');
    const fixed = await scrape();
    expect(fixed.get('model_monitor_syncs_total{outcome="updated"}')).toBe(2);
    expect(fixed.get('model_monitor_fetched_bytes_total')).toBe(3234);
    expect(fixed.get('model_monitor_fetched_files_total')).toBe(3);
    expect(fixed.get('model_monitor_consecutive_failures')).toBe(0);
    expect(fixed.get('model_monitor_backups')).toBeGreaterThanOrEqual(1);

    expect(await mm.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${base()}/healthz`)).rejects.toThrow();
  }, 90_000);
});
