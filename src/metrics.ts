/**
 * Prometheus metrics for one monitor. Every call builds its own Registry (no
 * global one), so two monitors in one process never clash. The cycle reports
 * through CycleHooks; the loop reports outcomes; the composition root reports
 * what is served. `ready()` backs /readyz.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CycleHooks, CycleOutcome } from './cycle.js';
import type { Freshness } from './freshness.js';
import { fleetGauges } from './metrics-fleet.js';
import type { FetchPlan } from './plan.js';

export type OutcomeReport = CycleOutcome | { kind: 'failed'; err: unknown };

export interface Metrics {
  readonly registry: Registry;
  readonly hooks: CycleHooks;
  outcome(o: OutcomeReport): void;
  /** What is served now (`fingerprint`: its donefile fingerprint, for the served info metric). */
  served(version: string | null, appliedAt: string | null, backups: number, fingerprint?: string | null): void;
  /** A model is served and the last cycle did not fail. */
  ready(): boolean;
}

export interface MetricsOptions {
  /** The monitor's freshness tracker: the remote's newest version and the staleness gauge. */
  readonly freshness?: () => Freshness;
}

const P = 'model_monitor_';
/** Label values of model_monitor_syncs_total, initialised to 0 so rate() works from the first scrape. */
const OUTCOMES = ['updated', 'current', 'no_donefile', 'failed', 'skipped_rejected'] as const;
const PHASES = ['detect', 'plan', 'fetch', 'validate', 'swap', 'reload'] as const;
/** Seconds: a poll is milliseconds, a multi-GB pull is minutes. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

const label = (kind: OutcomeReport['kind']): string => kind.replace(/-/g, '_');

function build(registry: Registry, appliedAt: () => string | null) {
  const registers = [registry];
  return {
    syncs: new Counter({ name: `${P}syncs_total`, help: 'Sync cycles by outcome', labelNames: ['outcome'], registers }),
    bytes: new Counter({ name: `${P}fetched_bytes_total`, help: 'Bytes downloaded from the remote', registers }),
    reused: new Counter({
      name: `${P}reused_bytes_total`,
      help: 'Bytes of updated models taken from the served copy instead of the remote (unchanged files with --incremental, unchanged chunks of a delta)',
      registers,
    }),
    files: new Counter({ name: `${P}fetched_files_total`, help: 'Files downloaded from the remote (reused files not counted)', registers }),
    cycle: new Histogram({ name: `${P}cycle_duration_seconds`, help: 'Duration of one sync cycle', buckets: DURATION_BUCKETS, registers }),
    phase: new Histogram({
      name: `${P}phase_duration_seconds`,
      help: 'Duration of one pipeline phase',
      labelNames: ['phase'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    age: new Gauge({
      name: `${P}served_model_age_seconds`,
      help: 'Seconds since the served model was swapped in (absent when nothing is served)',
      registers,
      collect() {
        const at = appliedAt();
        const t = at === null ? NaN : Date.parse(at);
        if (Number.isNaN(t)) this.remove();
        else this.set(Math.max(0, (Date.now() - t) / 1000));
      },
    }),
    lastSuccess: new Gauge({ name: `${P}last_success_timestamp_seconds`, help: 'Unix time of the last cycle that ended updated or current', registers }),
    backups: new Gauge({ name: `${P}backups`, help: 'Backups (or old versions) kept', registers }),
    polls: new Counter({ name: `${P}poll_requests_total`, help: 'Donefile polls (one per detect phase)', registers }),
    failures: new Gauge({ name: `${P}consecutive_failures`, help: 'Failed cycles since the last one that did not fail', registers }),
  };
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let servedVersion: string | null = null;
  let servedFingerprint: string | null = null;
  let servedAt: string | null = null;
  let lastFailed = false;
  let failures = 0;
  /** performance.now() when the cycle in flight started (derived from the end of its detect phase). */
  let cycleStart: number | null = null;
  /** Files the current plan downloads (not reused), counted when the cycle succeeds. */
  let plannedFiles = 0;
  const m = build(registry, () => servedAt);
  fleetGauges(registry, {
    served: () => (servedVersion === null ? null : { version: servedVersion, fingerprint: servedFingerprint ?? '' }),
    freshness: opts.freshness,
  });
  for (const o of OUTCOMES) m.syncs.inc({ outcome: o }, 0);
  for (const p of PHASES) m.phase.zero({ phase: p });
  m.lastSuccess.remove();
  m.failures.set(0);
  m.backups.set(0);

  const hooks: CycleHooks = {
    onPlan(p: FetchPlan) {
      plannedFiles = p.files.filter((f) => f.reuseFrom === undefined).length;
    },
    onBytes(n: number) {
      m.bytes.inc(n);
    },
    onPhase(phase: string, ms: number) {
      m.phase.observe({ phase }, ms / 1000);
      if (phase === 'detect') {
        m.polls.inc();
        cycleStart = performance.now() - ms;
        plannedFiles = 0;
      }
    },
  };

  function outcome(o: OutcomeReport): void {
    m.syncs.inc({ outcome: label(o.kind) });
    if (cycleStart !== null) m.cycle.observe((performance.now() - cycleStart) / 1000);
    cycleStart = null;
    lastFailed = o.kind === 'failed';
    failures = lastFailed ? failures + 1 : 0;
    m.failures.set(failures);
    if (o.kind === 'updated') {
      m.files.inc(plannedFiles);
      m.reused.inc(o.reusedBytes);
      // served() is authoritative; this keeps ready() right if it is not called after every cycle.
      servedVersion = o.version;
      servedFingerprint = opts.freshness?.().view().remote?.fingerprint ?? null;
      servedAt = new Date().toISOString();
    }
    if (o.kind === 'current' && servedVersion === null) servedVersion = o.version;
    if (o.kind === 'updated' || o.kind === 'current') m.lastSuccess.set(Date.now() / 1000);
    plannedFiles = 0;
  }

  function served(version: string | null, appliedAt: string | null, backups: number, fingerprint: string | null = null): void {
    servedVersion = version;
    servedFingerprint = version === null ? null : fingerprint;
    servedAt = version === null ? null : appliedAt;
    m.backups.set(backups);
  }

  return { registry, hooks, outcome, served, ready: () => servedVersion !== null && !lastFailed };
}
