/**
 * The composition root: builds the source, the swap strategy (with its
 * background discarder), the triggers, the record step and the child loggers
 * from one config, and hands them to the cycle. No logic of its own; the
 * process around it (terminal, signals, metrics, the /metrics server) is
 * monitor-run.ts.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { LocalConfig, MonitorConfig } from './config.js';
import { NEVER } from './deadline.js';
import { fireTriggers, reloadEvent, runCycle, stagingRoot, type CycleHooks, type CycleOutcome } from './cycle.js';
import { Freshness } from './freshness.js';
import type { Logger } from './log.js';
import { checkLocalDirs } from './local-dirs.js';
import { monitorSource } from './publish/view.js';
import { createWireEngine } from './wire/pool.js';
import { StatusRecord } from './record.js';
import { createTriggers } from './reload/index.js';
import type { ReloadTrigger } from './reload/types.js';
import type { Source } from './sources/types.js';
import { checkLocalLayout, servedIntact } from './start-checks.js';
import { acquireLock, readStatus, type Lock, type SyncStatus } from './state.js';
import { Discarder } from './swap/discard.js';
import { createSwap } from './swap/index.js';
import type { BackupInfo, SwapResult, SwapStrategy } from './swap/types.js';

export { checkLocalLayout } from './start-checks.js';

/** What the local commands need (rollback, status, accept): no source. */
export interface LocalMonitor {
  readonly config: LocalConfig;
  readonly swap: SwapStrategy;
  /** Check the local dirs, lock, recover an interrupted swap, clean staging. */
  start(): Promise<void>;
  rollback(): Promise<SwapResult>;
  status(): Promise<{ served: SwapResult | null; backups: BackupInfo[]; status: SyncStatus }>;
  close(): Promise<void>;
}

export interface Monitor extends LocalMonitor {
  readonly config: MonitorConfig;
  readonly source: Source;
  /** Lock, recover an interrupted swap, clean staging, check the served copy. */
  start(): Promise<void>;
  cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome>;
  /** The remote's newest version and this replica's staleness (freshness.ts), for /metrics. */
  freshness(): Freshness;
}

const msOrNull = (s: string | null | undefined) => (s ? Date.parse(s) || null : null);

/** What createMonitor builds on: the recovery outcome of start(), the triggers (one set per monitor), the record step. */
type LocalParts = LocalMonitor & { readonly recovered: () => string; readonly triggers: readonly ReloadTrigger[] };

export function createLocalMonitor(
  config: LocalConfig,
  log: Logger,
  record = new StatusRecord({ workDir: config.workDir, name: config.modelName, log }),
): LocalParts {
  const discarder = new Discarder();
  const swap = createSwap(config.swap, {
    servedPath: config.servedPath,
    workDir: config.workDir,
    name: config.modelName,
    keepBackups: config.keepBackups,
    fsync: config.fsync,
    discarder,
  });
  const triggers = createTriggers(config);
  const cycleLog = log.child({ component: 'cycle' });
  let lock: Lock | null = null;
  let recovered = 'clean';
  /** Past the start-up checks: only then does close() clean up the work dir. */
  let started = false;

  async function start(): Promise<void> {
    // Before the lock (which creates the staging dir): an unwritable --local_path is bad input, exit 2.
    await checkLocalDirs(config);
    lock = await acquireLock(config.workDir, config.modelName, config.servedPath, (h) =>
      log.warn({ event: 'stale-lock', pid: h?.pid ?? null }, `took over a stale lock${h ? ` (pid ${h.pid} is gone or is another process now)` : ''}`),
    );
    await checkLocalLayout(config);
    started = true;
    const outcome = await swap.recover({ log: cycleLog, signal: NEVER });
    recovered = outcome;
    // Staging left by a crash is kept: it is keyed by donefile fingerprint, resumed only for that same
    // version, and never swapped in without passing verify (see staging.ts).
    // Crash mid writeJsonAtomic: the tmp file never became the record; the old record stands.
    for (const f of await readdir(config.workDir)) {
      if (f.startsWith(`${config.modelName}.`) && f.endsWith('.tmp')) await rm(path.join(config.workDir, f), { force: true });
    }
    const cur = await swap.current();
    if (cur && outcome === 'completed') {
      // The interrupted swap is finished on disk, but the engine was never told: tell it now.
      await fireTriggers({ triggers, log: cycleLog }, reloadEvent(cur, null)).catch((err: unknown) =>
        log.error({ event: 'reload-failed', version: cur.version, err }, 'reload after recovery failed'),
      );
    }
  }

  async function rollback(): Promise<SwapResult> {
    const before = await swap.current();
    const r = await swap.rollback({ log: cycleLog, signal: NEVER });
    // The rolled-back-from donefile stays rejected until the producer publishes a new one, or `accept`.
    if (before) {
      await record.reject(
        { fingerprint: before.record.fingerprint, reason: 'rolled back by the operator', at: new Date().toISOString(), byOperator: true },
        'rolled-back',
      );
    }
    await fireTriggers({ triggers, log: cycleLog }, reloadEvent(r, before?.version ?? null));
    return r;
  }

  async function status() {
    return { served: await swap.current(), backups: await swap.backups(), status: await readStatus(config.workDir, config.modelName) };
  }

  async function close(): Promise<void> {
    if (lock && started) await rm(stagingRoot(config), { recursive: true, force: true }).catch(() => {});
    await discarder.settle();
    await lock?.release();
  }

  return { config, swap, start, rollback, status, close, recovered: () => recovered, triggers };
}

export function createMonitor(config: MonitorConfig, log: Logger): Monitor {
  // A model that `publish` wrote is read through its version manifest; any other remote passes through as is.
  // One wire engine per monitor (--data-path wire): its worker threads start when a pull begins, not here.
  const wire = config.dataPath === 'wire' ? createWireEngine() : null;
  const source = monitorSource(config, { log, timeoutMs: config.timeoutMs, concurrency: config.concurrency, retries: config.retries, wire });
  let fresh = new Freshness({ servedFingerprint: null });
  const record = new StatusRecord({ workDir: config.workDir, name: config.modelName, log, freshness: () => fresh.view() });
  const local = createLocalMonitor(config, log, record);
  const { swap, triggers } = local;
  const cycleLog = log.child({ component: 'cycle' });
  let force = false;

  async function start(): Promise<void> {
    await local.start();
    const cur = await swap.current();
    if (cur) {
      const bad = await servedIntact(cur.record, cur.modelDir, config.verifyOnStart);
      if (bad) {
        log.warn({ event: 'served-mismatch', version: cur.version, detail: bad }, 'served model does not match its record; it will be pulled again');
        force = true;
      }
    }
    const st = await readStatus(config.workDir, config.modelName);
    const remote = st.remote ? { ...st.remote, seenAt: msOrNull(st.remote.seenAt) ?? Date.now() } : null;
    fresh = new Freshness({ servedFingerprint: cur?.record.fingerprint ?? null, staleSince: msOrNull(st.staleSince), remote });
    log.info(
      { event: 'start', remote: config.displayUrl, served: config.servedPath, version: cur?.version ?? null, recover: local.recovered() },
      'model-monitor started',
    );
  }

  async function cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome> {
    const withFreshness: CycleHooks = { ...hooks, onAspired: (a) => (fresh.aspired(a), hooks?.onAspired?.(a)) };
    try {
      const out = await runCycle({ source, swap, triggers, config, log: cycleLog, force, hooks: withFreshness, record, wire }, signal);
      fresh.outcome(out.kind);
      if (out.kind === 'updated') force = false;
      await record.ended(out);
      return out;
    } catch (err) {
      if (!signal.aborted) fresh.outcome('failed');
      await record.ended({ kind: 'failed', err });
      throw err;
    }
  }

  async function close(): Promise<void> {
    await source.close().catch(() => {});
    await wire?.close();
    await local.close();
  }

  return { config, swap, rollback: local.rollback, status: local.status, source, start, cycle, freshness: () => fresh, close };
}
