import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Registry } from 'prom-client';
import { Freshness } from '../../src/freshness.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import type { FetchPlan } from '../../src/plan.js';

function plan(files: { size: number; reuse?: boolean }[]): FetchPlan {
  return {
    aspired: { version: 'v1', fingerprint: 'mtime:1', remoteModel: 'model' },
    archive: false,
    manifest: null,
    files: files.map((f, i) => ({ path: `f${i}`, remote: `model/f${i}`, size: f.size, ...(f.reuse ? { reuseFrom: `f${i}` } : {}) })),
    totalBytes: files.reduce((n, f) => n + f.size, 0),
  };
}

/** prom-client sets metricName on histogram samples (`_bucket`, `_sum`, `_count`); its types omit it. */
const nameOf = (v: object): string | undefined => (v as { metricName?: string }).metricName;

async function value(m: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const got = await metric.get();
  const hit = got.values.find((v) => (nameOf(v) === undefined || nameOf(v) === name) && Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value;
}

/** One updated cycle as the cycle reports it. */
function updatedCycle(m: Metrics, version: string): void {
  m.hooks.onPhase?.('detect', 5);
  m.hooks.onPlan?.(plan([{ size: 100 }, { size: 50 }, { size: 7, reuse: true }]));
  m.hooks.onPhase?.('plan', 2);
  m.hooks.onBytes?.(100);
  m.hooks.onBytes?.(50);
  m.hooks.onPhase?.('fetch', 30);
  m.hooks.onPhase?.('swap', 1);
  m.outcome({ kind: 'updated', version, previous: null, bytes: 157, files: 3, fetchedBytes: 150, reusedBytes: 7 });
}

describe('createMetrics', () => {
  it('has the declared shape', () => {
    expectTypeOf(createMetrics).returns.toEqualTypeOf<Metrics>();
    expectTypeOf<Metrics['registry']>().toEqualTypeOf<Registry>();
  });

  it('gives every monitor its own registry, with the default process metrics on it', async () => {
    const a = createMetrics();
    const b = createMetrics();
    expect(a.registry).not.toBe(b.registry);
    a.hooks.onBytes?.(10);
    expect(await value(a, 'model_monitor_fetched_bytes_total')).toBe(10);
    expect(await value(b, 'model_monitor_fetched_bytes_total')).toBe(0);
    const text = await a.registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_total_bytes');
  });

  it('exposes every outcome label from the start', async () => {
    const m = createMetrics();
    for (const o of ['updated', 'current', 'no_donefile', 'failed', 'skipped_rejected']) {
      expect(await value(m, 'model_monitor_syncs_total', { outcome: o })).toBe(0);
    }
  });

  it('counts a pull: outcome, bytes, files fetched (not reused), polls, phase and cycle durations', async () => {
    const m = createMetrics();
    updatedCycle(m, 'v1');
    expect(await value(m, 'model_monitor_syncs_total', { outcome: 'updated' })).toBe(1);
    expect(await value(m, 'model_monitor_fetched_bytes_total')).toBe(150);
    expect(await value(m, 'model_monitor_reused_bytes_total')).toBe(7);
    expect(await value(m, 'model_monitor_fetched_files_total')).toBe(2);
    expect(await value(m, 'model_monitor_poll_requests_total')).toBe(1);
    const phase = await m.registry.getSingleMetric('model_monitor_phase_duration_seconds')!.get();
    const fetchCount = phase.values.find((v) => nameOf(v) === 'model_monitor_phase_duration_seconds_count' && v.labels['phase'] === 'fetch');
    const fetchSum = phase.values.find((v) => nameOf(v) === 'model_monitor_phase_duration_seconds_sum' && v.labels['phase'] === 'fetch');
    expect(fetchCount?.value).toBe(1);
    expect(fetchSum?.value).toBeCloseTo(0.03);
    const cycle = await m.registry.getSingleMetric('model_monitor_cycle_duration_seconds')!.get();
    const cycleCount = cycle.values.find((v) => nameOf(v) === 'model_monitor_cycle_duration_seconds_count');
    const cycleSum = cycle.values.find((v) => nameOf(v) === 'model_monitor_cycle_duration_seconds_sum');
    expect(cycleCount?.value).toBe(1);
    expect(cycleSum?.value).toBeGreaterThanOrEqual(0.005);
    const last = await value(m, 'model_monitor_last_success_timestamp_seconds');
    expect(last).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('counts one poll per detect phase, and polls that find nothing new', async () => {
    const m = createMetrics();
    for (let i = 0; i < 3; i++) {
      m.hooks.onPhase?.('detect', 1);
      m.outcome(i === 0 ? { kind: 'no-donefile' } : { kind: 'current', version: 'v1' });
    }
    expect(await value(m, 'model_monitor_poll_requests_total')).toBe(3);
    expect(await value(m, 'model_monitor_syncs_total', { outcome: 'no_donefile' })).toBe(1);
    expect(await value(m, 'model_monitor_syncs_total', { outcome: 'current' })).toBe(2);
    m.outcome({ kind: 'skipped-rejected', fingerprint: 'x' });
    expect(await value(m, 'model_monitor_syncs_total', { outcome: 'skipped_rejected' })).toBe(1);
  });

  it('counts consecutive failures and resets them on the next cycle that does not fail', async () => {
    const m = createMetrics();
    m.outcome({ kind: 'failed', err: new Error('a') });
    m.outcome({ kind: 'failed', err: new Error('b') });
    expect(await value(m, 'model_monitor_consecutive_failures')).toBe(2);
    expect(await value(m, 'model_monitor_syncs_total', { outcome: 'failed' })).toBe(2);
    expect(await value(m, 'model_monitor_last_success_timestamp_seconds')).toBeUndefined();
    m.outcome({ kind: 'no-donefile' });
    expect(await value(m, 'model_monitor_consecutive_failures')).toBe(0);
  });

  it('files fetched by a failed cycle are not counted as fetched files (bytes are)', async () => {
    const m = createMetrics();
    m.hooks.onPhase?.('detect', 1);
    m.hooks.onPlan?.(plan([{ size: 10 }]));
    m.hooks.onBytes?.(4);
    m.outcome({ kind: 'failed', err: new Error('cut') });
    m.hooks.onPhase?.('detect', 1);
    m.outcome({ kind: 'current', version: 'v0' });
    expect(await value(m, 'model_monitor_fetched_files_total')).toBe(0);
    expect(await value(m, 'model_monitor_fetched_bytes_total')).toBe(4);
  });

  it('computes the served model age at scrape time, and omits it when nothing is served', async () => {
    const m = createMetrics();
    expect(await value(m, 'model_monitor_served_model_age_seconds')).toBeUndefined();
    m.served('v1', new Date(Date.now() - 90_000).toISOString(), 2);
    const age = await value(m, 'model_monitor_served_model_age_seconds');
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(150);
    expect(await value(m, 'model_monitor_backups')).toBe(2);
    expect(await m.registry.metrics()).toMatch(/^model_monitor_served_model_age_seconds \d/m);
    m.served(null, null, 0);
    expect(await value(m, 'model_monitor_served_model_age_seconds')).toBeUndefined();
  });

  it('is ready when a model is served and the last cycle did not fail', () => {
    const m = createMetrics();
    expect(m.ready()).toBe(false);
    m.outcome({ kind: 'no-donefile' });
    expect(m.ready()).toBe(false);
    m.served('v1', new Date().toISOString(), 0);
    expect(m.ready()).toBe(true);
    m.outcome({ kind: 'failed', err: new Error('x') });
    expect(m.ready()).toBe(false);
    m.outcome({ kind: 'current', version: 'v1' });
    expect(m.ready()).toBe(true);
  });

  it('becomes ready from an updated outcome alone (served() not called yet)', async () => {
    const m = createMetrics();
    updatedCycle(m, 'v2');
    expect(m.ready()).toBe(true);
    expect(await value(m, 'model_monitor_served_model_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('renders valid Prometheus text with HELP and TYPE for every model_monitor metric', async () => {
    const m = createMetrics();
    updatedCycle(m, 'v1');
    const text = await m.registry.metrics();
    const names = [
      ['model_monitor_syncs_total', 'counter'],
      ['model_monitor_fetched_bytes_total', 'counter'],
      ['model_monitor_fetched_files_total', 'counter'],
      ['model_monitor_reused_bytes_total', 'counter'],
      ['model_monitor_cycle_duration_seconds', 'histogram'],
      ['model_monitor_phase_duration_seconds', 'histogram'],
      ['model_monitor_served_model_age_seconds', 'gauge'],
      ['model_monitor_last_success_timestamp_seconds', 'gauge'],
      ['model_monitor_backups', 'gauge'],
      ['model_monitor_poll_requests_total', 'counter'],
      ['model_monitor_consecutive_failures', 'gauge'],
    ];
    for (const [n, t] of names) {
      expect(text).toContain(`# HELP ${n} `);
      expect(text).toContain(`# TYPE ${n} ${t}`);
    }
    expect(m.registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('fleet metrics: served and remote versions, staleness', () => {
  /** A freshness tracker on a clock the test moves by hand. */
  function fleet() {
    let t = 5_000_000;
    const fresh = new Freshness({ servedFingerprint: null }, () => t);
    return { m: createMetrics({ freshness: () => fresh }), fresh, advance: (ms: number) => void (t += ms) };
  }
  const labels = async (m: Metrics, name: string) => (await m.registry.getSingleMetric(name)!.get()).values.map((v) => ({ ...v.labels, value: v.value }));

  it('served_info names the served version and fingerprint; one series, replaced on update', async () => {
    const { m } = fleet();
    expect(await labels(m, 'model_monitor_served_info')).toEqual([]);
    m.served('v1', new Date().toISOString(), 0, 'mtime:1');
    expect(await labels(m, 'model_monitor_served_info')).toEqual([{ version: 'v1', fingerprint: 'mtime:1', value: 1 }]);
    m.served('v2', new Date().toISOString(), 1, 'mtime:2');
    expect(await labels(m, 'model_monitor_served_info')).toEqual([{ version: 'v2', fingerprint: 'mtime:2', value: 1 }]);
    expect(await m.registry.metrics()).toContain('model_monitor_served_info{version="v2",fingerprint="mtime:2"} 1');
  });

  it("remote_info follows the remote's newest version; staleness grows while it is not served and drops to 0 once it is", async () => {
    const { m, fresh, advance } = fleet();
    fresh.aspired({ version: 'v1', fingerprint: 'mtime:1' });
    fresh.outcome('updated');
    m.served('v1', new Date().toISOString(), 0, 'mtime:1');
    expect(await value(m, 'model_monitor_staleness_seconds')).toBe(0);
    advance(10_000);
    fresh.aspired({ version: 'v2', fingerprint: 'mtime:2' });
    expect(await labels(m, 'model_monitor_remote_info')).toEqual([{ version: 'v2', fingerprint: 'mtime:2', value: 1 }]);
    expect(await value(m, 'model_monitor_remote_seen_timestamp_seconds')).toBe(5_010);
    advance(20_000);
    fresh.outcome('failed'); // the pull failed: the remote went away
    expect(await value(m, 'model_monitor_staleness_seconds')).toBe(30);
    advance(15_000);
    expect(await value(m, 'model_monitor_staleness_seconds')).toBe(45);
    fresh.aspired({ version: 'v2', fingerprint: 'mtime:2' });
    fresh.outcome('updated');
    m.served('v2', new Date().toISOString(), 1, 'mtime:2');
    expect(await value(m, 'model_monitor_staleness_seconds')).toBe(0);
  });

  it('without a freshness tracker only served_info is there', async () => {
    const m = createMetrics();
    m.served('v1', new Date().toISOString(), 0, 'mtime:1');
    const text = await m.registry.metrics();
    expect(text).toContain('model_monitor_served_info{');
    expect(text).not.toContain('model_monitor_staleness_seconds');
  });
});
