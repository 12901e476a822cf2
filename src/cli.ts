/**
 * The commander program only: parse, build the config, call createMonitor(),
 * map errors to exit codes (0 ok / 1 sync failed / 2 bad input).
 */
import { Command } from 'commander';
import { runAccept } from './accept.js';
import { checkFlags } from './argv.js';
import { addOptions, defaultIo, loggerFor, progressFor, quietOnEpipe, rawFrom, reportError, shutdownSignal, terminal, type CliIo } from './cli-support.js';
import { allOptions, buildConfig, buildLocalConfig, normalizeArgv, type Command as Cmd, type LocalCommand, type LocalConfig, type MonitorConfig } from './config.js';
import { ConfigError, failureLine } from './errors.js';
import type { Logger } from './log.js';
import { createLocalMonitor, createMonitor, type Monitor } from './monitor.js';
import { joinDisplay, type OptionSpec, type RawOptions } from './options.js';
import { checkPreheat, preheatOptions, runPreheat } from './preheat-cli.js';
import { publishFlags } from './publish/options.js';
import { printStatus } from './status.js';
import type { Terminal } from './terminal.js';
import { parseValues } from './values.js';

export type { CliIo } from './cli-support.js';
import { createWaker, watchLoop } from './watch.js';
import type { CycleHooks, CycleOutcome } from './cycle.js';
import type { Metrics } from './metrics.js';

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

const VERSION = '0.1.0';

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

async function runWatch(c: MonitorConfig): Promise<number> {
  return withMonitor(c, async (m, log, term) => {
    const metrics = (await metricsModule()).createMetrics({ freshness: () => m.freshness() });
    const progress = await progressFor(c, term);
    const hooks = allHooks(metrics.hooks, progress);
    await reportServed(m, metrics);
    // Before the signal handlers: a busy port exits 2 and leaves nothing behind.
    const server = c.metricsPort === null ? null : await (await serverModule()).startServer({ host: c.metricsHost, port: c.metricsPort, metrics, log: log.child({ component: 'server' }) });
    const cycle = async (s: AbortSignal): Promise<CycleOutcome> => {
      // What is served changes only with an update or a failed cycle (a reload failure can roll back):
      // an idle poll does not re-read the served record and the backups.
      let changed = true;
      try {
        const o = await m.cycle(s, hooks);
        metrics.outcome(o);
        changed = o.kind === 'updated';
        return o;
      } catch (err) {
        if (!s.aborted) metrics.outcome({ kind: 'failed', err });
        throw err;
      } finally {
        progress.stop();
        if (changed) await reportServed(m, metrics).catch(() => {});
      }
    };
    const { signal, dispose } = shutdownSignal(log);
    let rejectedShown = '';
    const waker = createWaker();
    const onHup = () => waker.wake();
    process.on('SIGHUP', onHup);
    try {
      return await watchLoop(cycle, waker, {
        intervalMs: c.intervalMs, maxFailures: c.maxFailures, log: log.child({ component: 'watch' }), shutdown: signal,
        onOutcome: (o) => {
          if (o.kind === 'updated') log.info({ event: 'updated', version: o.version, previous: o.previous, bytes: o.bytes, fetchedBytes: o.fetchedBytes, files: o.files }, `now serving ${o.version}`);
          if (o.kind === 'skipped-rejected' && rejectedShown !== o.fingerprint) {
            rejectedShown = o.fingerprint;
            log.info({ event: 'rejected', fingerprint: o.fingerprint }, "the remote's donefile was rejected (rollback or --validate); waiting for a new one, or `model-monitor accept`");
          }
        },
      });
    } finally {
      process.off('SIGHUP', onHup);
      dispose();
      await server?.close();
    }
  });
}

async function runSync(c: MonitorConfig): Promise<number> {
  return withMonitor(c, async (m, log, term) => {
    const { signal, dispose } = shutdownSignal(log);
    const progress = await progressFor(c, term);
    try {
      const o = await m.cycle(signal, progress);
      if (o.kind === 'updated') log.info({ event: 'updated', version: o.version, previous: o.previous, bytes: o.bytes, fetchedBytes: o.fetchedBytes, files: o.files }, `now serving ${o.version}`);
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
    log.info({ event: 'rolled-back', version: served.version, fingerprint: status.rejected.fingerprint },
      `serving ${served.version}, chosen by rollback; the remote's donefile stays rejected until it changes (model-monitor accept pulls it now)`);
    return 0;
  }
  log.warn({ event: 'rejected' }, 'this donefile was rejected before (validate or rollback); waiting for a new one');
  return 1;
}

async function runRollback(c: LocalConfig): Promise<number> {
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

type Action = (raw: RawOptions, args: readonly string[]) => Promise<number>;

async function runKserve(raw: RawOptions, args: readonly string[]): Promise<number> {
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

/** One table: name, description, positional arguments, what it runs, the flags only it takes. */
function commandTable(io: CliIo): [Cmd, string, string[], Action, (readonly OptionSpec[])?][] {
  const local = (name: LocalCommand, f: (c: LocalConfig) => Promise<number>): Action => (raw) => f(buildLocalConfig(name, raw));
  return [
    ['watch', 'poll forever; sync on every donefile change (the default)', [], (raw) => runWatch(buildConfig('watch', raw))],
    ['sync', 'one cycle: pull if the donefile differs from what is served, then exit (0 current, 1 failed)', [], (raw) => runSync(buildConfig('sync', raw))],
    ['rollback', 'swap the newest backup back in and fire the reload triggers (local flags only)', [], local('rollback', runRollback)],
    ['status', 'what is served, from which donefile, when, backups kept (--json; local flags only)', [], local('status', (c) => printStatus(c, io.out))],
    ['accept', 'clear the rejection left by rollback or --validate, so the next cycle pulls that donefile (local flags only)', [], local('accept', (c) => runAccept(c, io.out))],
    ['kserve-init', 'KServe storage initializer: pull the model at URI (no donefile) into DEST; exit 0 only when complete', ['<uri>', '<dest>', '[more...]'], runKserve],
    ['publish', 'producer side: upload PATH (a model dir, or one file) as --remote_model_name, the donefile last; --preheat-url then warms a cache tier (0 published, 1 failed, 2 bad input)',
      ['<path>'], async (raw, [local]) => (await import('./publish/command.js')).runPublish(local!, raw, io), publishFlags],
    ['preheat', 'ask a cache tier (a proxy URL) or a Dragonfly manager to warm a new version before the replicas poll: the file URLs given, or the files of --remote as replicas request them',
      ['[urls...]'], (raw, urls) => runPreheat(raw, urls, io), preheatOptions],
    ['demo', 'embedded FTP server + a producer + watch, in a temp dir', [], async () => (await import('./demo.js')).runDemo(io)],
  ];
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  if (io === defaultIo) {
    quietOnEpipe(process.stdout);
    quietOnEpipe(process.stderr);
  }
  const specs = allOptions();
  const args = argv.slice(2);
  let result = 0;
  const program = new Command('model-monitor')
    .description('Keep a served model in step with a remote store: detect, pull, verify, swap atomically, reload.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText('after', "\nEvery command but demo takes the same flags (publish and preheat a few more): see 'model-monitor sync --help'.\nPaddle Serving's spellings work too (--ftp_ip, --local_tmp_dir, --local_donefile_name).");
  const table = commandTable(io);
  const everyFlag = [...specs, ...table.flatMap((t) => t[4] ?? [])];
  for (const [name, desc, positional, action, own = []] of table) {
    const cmd = program.command(name, { isDefault: name === 'watch' }).description(desc).allowExcessArguments(false);
    for (const p of positional) cmd.argument(p);
    const flags = [...specs, ...own];
    if (name !== 'demo') addOptions(cmd, flags);
    cmd.action(async () => {
      if (name === 'demo') {
        result = await action({}, []);
        return;
      }
      const { raw, printed } = rawFrom(cmd, flags, io);
      if (printed) await validateOnly(name, raw);
      result = printed ? 0 : await action(raw, cmd.args);
    });
  }
  try {
    checkFlags(args, everyFlag);
    await program.parseAsync(normalizeArgv(args, everyFlag), { from: 'user' });
    return result;
  } catch (err) {
    return reportError(err, io, { args, specs: everyFlag });
  }
}

/** --print-config still checks the config (exit 2 on bad input), without running anything. */
async function validateOnly(name: Cmd, raw: RawOptions): Promise<void> {
  if (name === 'watch' || name === 'sync') buildConfig(name, raw);
  else if (name === 'rollback' || name === 'status' || name === 'accept') buildLocalConfig(name, raw);
  else if (name === 'preheat') checkPreheat(raw);
  else if (name === 'publish') (await import('./publish/command.js')).checkPublish(raw);
  else parseValues(raw);
}

