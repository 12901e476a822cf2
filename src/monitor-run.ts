/**
 * The process around a monitor, wired in one place: the terminal and the
 * logger, the progress bar, metrics and the /metrics server, SIGTERM/SIGINT
 * (shutdown) and SIGHUP (check now), and what each command says when it ends.
 * cli.ts calls these; the demo runs runWatch() too.
 */
import type { LocalConfig, MonitorConfig } from './config.js';
import type { CycleHooks, CycleOutcome } from './cycle.js';
import { ConfigError, failureLine } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics, OutcomeReport } from './metrics.js';
import { createLocalMonitor, createMonitor, type Monitor } from './monitor.js';
import { joinDisplay, type RawOptions } from './options.js';
import { loggerFor, progressFor, shutdownSignal, terminal } from './runtime.js';
import type { Terminal } from './terminal.js';
import { parseValues } from './values.js';
import { createWaker, watchLoop } from './watch.js';

/** Loaded when a command needs them (prom-client): a `status` or a bad flag should not pay for them. */
const metricsModule = () => import('./metrics.js');
const serverModule = () => import('./server.js');

/** Calls each hook of each set in turn. */
function allHooks(...hs: CycleHooks[]): CycleHooks {
  return {
    onAspired: (a) => hs.forEach((h) => h.onAspired?.(a)),
    onPlan: (p) => hs.forEach((h) => h.onPlan?.(p)),
    onBytes: (n) => hs.forEach((h) => h.onBytes?.(n)),
    onFile: (p) => hs.forEach((h) => h.onFile?.(p)),
    onPhase: (phase, ms) => hs.forEach((h) => h.onPhase?.(phase, ms)),
  };
}

async function reportServed(m: Monitor, metrics: Metrics): Promise<void> {
  const s = await m.status();
  metrics.served(s.served?.version ?? null, s.served?.record.appliedAt ?? null, s.backups.length, s.served?.record.fingerprint ?? null);
}

function logUpdated(log: Logger, o: Extract<CycleOutcome, { kind: 'updated' }>): void {
  log.info(
    { event: 'updated', version: o.version, previous: o.previous, bytes: o.bytes, fetchedBytes: o.fetchedBytes, reusedBytes: o.reusedBytes, files: o.files },
    `now serving ${o.version}`,
  );
}

async function withMonitor(c: MonitorConfig, f: (m: Monitor, log: Logger, term: Terminal) => Promise<number>): Promise<number> {
  const term = terminal();
  const log = loggerFor(c, term);
  const m = createMonitor(c, log);
  try {
    await m.start();
    return await f(m, log, term);
  } finally {
    await m.close();
    log.flush?.();
  }
}

export interface WatchOptions {
  /** Aborts the watch (default: SIGTERM or SIGINT do). */
  readonly shutdown?: AbortSignal;
  /** Each cycle's outcome, after it is logged and counted. */
  readonly onOutcome?: (o: OutcomeReport) => void;
}

/** `watch`: poll forever; metrics, the /metrics server, SIGHUP = check now; returns the exit code. */
export async function runWatch(c: MonitorConfig, o: WatchOptions = {}): Promise<number> {
  return withMonitor(c, async (m, log, term) => {
    const metrics = (await metricsModule()).createMetrics({ freshness: () => m.freshness() });
    const progress = await progressFor(c, term);
    const hooks = allHooks(metrics.hooks, progress);
    await reportServed(m, metrics);
    // Before the signal handlers: a busy port exits 2 and leaves nothing behind.
    const server =
      c.metricsPort === null
        ? null
        : await (await serverModule()).startServer({ host: c.metricsHost, port: c.metricsPort, metrics, log: log.child({ component: 'server' }) });
    const cycle = async (s: AbortSignal): Promise<CycleOutcome> => {
      // What is served changes only with an update or a failed cycle (a reload failure can roll back):
      // an idle poll does not re-read the served record and the backups.
      let changed = true;
      try {
        const out = await m.cycle(s, hooks);
        metrics.outcome(out);
        changed = out.kind === 'updated';
        return out;
      } catch (err) {
        if (!s.aborted) metrics.outcome({ kind: 'failed', err });
        throw err;
      } finally {
        progress.stop();
        if (changed) await reportServed(m, metrics).catch(() => {});
      }
    };
    const own = o.shutdown ? null : shutdownSignal(log);
    let rejectedShown = '';
    const waker = createWaker();
    const onHup = () => waker.wake();
    process.on('SIGHUP', onHup);
    try {
      return await watchLoop(cycle, waker, {
        intervalMs: c.intervalMs,
        maxFailures: c.maxFailures,
        log: log.child({ component: 'watch' }),
        shutdown: o.shutdown ?? own!.signal,
        onOutcome: (out) => {
          if (out.kind === 'updated') logUpdated(log, out);
          if (out.kind === 'skipped-rejected' && rejectedShown !== out.fingerprint) {
            rejectedShown = out.fingerprint;
            log.info(
              { event: 'rejected', fingerprint: out.fingerprint },
              "the remote's donefile was rejected (rollback or --validate); waiting for a new one, or `model-monitor accept`",
            );
          }
          o.onOutcome?.(out);
        },
      });
    } finally {
      process.off('SIGHUP', onHup);
      own?.dispose();
      await server?.close();
    }
  });
}

/** `sync`: one cycle; 0 when the served model is current (updated or already), 1 when it failed. */
export async function runSync(c: MonitorConfig): Promise<number> {
  return withMonitor(c, async (m, log, term) => {
    const { signal, dispose } = shutdownSignal(log);
    const progress = await progressFor(c, term);
    try {
      const o = await m.cycle(signal, progress);
      if (o.kind === 'updated') logUpdated(log, o);
      else if (o.kind === 'current') log.info({ event: 'current', version: o.version }, 'served model is current');
      else if (o.kind === 'no-donefile') log.error({ event: 'no-donefile' }, `no donefile at ${joinDisplay(c.displayUrl, c.remoteDonefile)}`);
      else return await rejectedOutcome(m, log);
      return o.kind === 'updated' || o.kind === 'current' ? 0 : 1;
    } catch (err) {
      log.error({ event: 'sync-failed', err }, failureLine(err));
      return 1;
    } finally {
      progress.stop();
      dispose();
    }
  });
}

/**
 * `sync` when the remote's donefile is the rejected one: 0 while the served model is the one the
 * operator chose with `rollback` (that is the state they asked for), 1 after a failed --validate or reload.
 */
async function rejectedOutcome(m: Monitor, log: Logger): Promise<number> {
  const { served, status } = await m.status();
  if (status.rejected?.byOperator && served) {
    log.info(
      { event: 'rolled-back', version: served.version, fingerprint: status.rejected.fingerprint },
      `serving ${served.version}, chosen by rollback; the remote's donefile stays rejected until it changes (model-monitor accept pulls it now)`,
    );
    return 0;
  }
  log.warn({ event: 'rejected' }, 'this donefile was rejected before (validate or rollback); waiting for a new one');
  return 1;
}

/** `rollback`: the newest backup back in, the triggers fired. */
export async function runRollback(c: LocalConfig): Promise<number> {
  const log = loggerFor(c, terminal());
  const m = createLocalMonitor(c, log);
  try {
    await m.start();
    const r = await m.rollback();
    log.info({ event: 'rolled-back', version: r.version }, `rolled back: now serving ${r.version} (model-monitor accept undoes the rejection)`);
    return 0;
  } finally {
    await m.close();
    log.flush?.();
  }
}

/** `kserve-init URI DEST…`: each model pulled into its DEST; 0 only when all are complete. */
export async function runKserve(raw: RawOptions, args: readonly string[]): Promise<number> {
  const { kserveTargets, pullInto } = await import('./kserve.js');
  const core = parseValues(raw);
  const targets = kserveTargets(args, raw);
  const term = terminal();
  const log = loggerFor(core, term);
  const { signal, dispose } = shutdownSignal(log);
  const progress = await progressFor(core, term);
  try {
    for (const t of targets) {
      const r = await pullInto(t, { core, log, signal, hooks: progress });
      log.info({ event: 'kserve-ready', dest: t.dest, files: r.files, bytes: r.bytes }, `${t.dest} holds the model: ${r.files} files, ${r.bytes} bytes`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    log.error({ event: 'kserve-failed', err }, `kserve-init failed: ${(err as Error).message}`);
    return 1;
  } finally {
    progress.stop();
    dispose();
    log.flush?.();
  }
}
