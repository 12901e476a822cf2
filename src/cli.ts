/**
 * The commander program only: parse, build the config, call createMonitor(),
 * map errors to exit codes (0 ok / 1 sync failed / 2 bad input).
 */
import { Command, Option } from 'commander';
import { allOptions, buildConfig, normalizeArgv, printableConfig, resolveRaw, type Command as Cmd, type MonitorConfig } from './config.js';
import { ConfigError, LockedError, MonitorError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { createMonitor, type Monitor } from './monitor.js';
import { LIST_SEPARATOR, type OptionSpec } from './options.js';
import { addPublishCommand } from './publish/cli.js';
import { printStatus } from './status.js';
import { createWaker, watchLoop } from './watch.js';
import type { CycleHooks, CycleOutcome } from './cycle.js';
import type { Metrics } from './metrics.js';

/** Loaded when a command needs them (prom-client, cli-progress): a `status` or a bad flag should not pay for them. */
const metricsModule = () => import('./metrics.js');
const progressModule = () => import('./progress.js');
const serverModule = () => import('./server.js');

/** Calls each hook of each set in turn. */
function allHooks(...hs: CycleHooks[]): CycleHooks {
  return {
    onPlan: (p) => hs.forEach((h) => h.onPlan?.(p)),
    onBytes: (n) => hs.forEach((h) => h.onBytes?.(n)),
    onPhase: (phase, ms) => hs.forEach((h) => h.onPhase?.(phase, ms)),
  };
}

async function reportServed(m: Monitor, metrics: Metrics): Promise<void> {
  const s = await m.status();
  metrics.served(s.served?.version ?? null, s.served?.record.appliedAt ?? null, s.backups.length);
}

const VERSION = '0.1.0';

export function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const s of specs) {
    if (s.kind === 'bool') {
      cmd.addOption(new Option(`--${s.name}`, s.help));
      cmd.addOption(new Option(`--no-${s.name}`).hideHelp());
    } else if (s.kind === 'list') {
      cmd.addOption(new Option(`--${s.name} <${s.metavar ?? 'value'}>`, `${s.help}`).argParser((v: string, prev?: string) => (prev ? `${prev}${LIST_SEPARATOR}${v}` : v)));
    } else {
      const o = new Option(`--${s.name} <${s.metavar ?? (s.choices ? s.choices.join('|') : 'value')}>`, s.help + (s.default !== undefined ? ` (default: ${String(s.default)})` : ''));
      cmd.addOption(o);
    }
  }
  return cmd;
}

/** commander's values → raw strings keyed by kebab name, only what was typed. */
export function typed(cmd: Command, specs: readonly OptionSpec[]): Record<string, string | undefined> {
  const opts = cmd.opts<Record<string, unknown>>();
  const out: Record<string, string | undefined> = {};
  for (const s of specs) {
    const key = s.name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    const v = opts[key];
    if (v !== undefined) out[s.name] = String(v);
  }
  return out;
}

export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env };

function configFrom(command: Cmd, cmd: Command, specs: readonly OptionSpec[], io: CliIo): { config: MonitorConfig; printed: boolean } {
  const raw = resolveRaw(typed(cmd, specs), io.env, specs);
  if (raw['print-config'] === 'true') {
    io.out(JSON.stringify(printableConfig(raw, specs), null, 2) + '\n');
    return { config: buildConfig(command, raw), printed: true };
  }
  return { config: buildConfig(command, raw), printed: false };
}

function loggerFor(c: MonitorConfig): Logger {
  return createLogger({ level: c.logLevel, format: c.logFormat });
}

async function withMonitor(c: MonitorConfig, f: (m: Monitor, log: Logger) => Promise<number>): Promise<number> {
  const log = loggerFor(c);
  const m = createMonitor(c, log);
  try {
    await m.start();
    return await f(m, log);
  } finally {
    await m.close();
    log.flush?.();
  }
}

function shutdownSignal(log: Logger | null): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (sig: string) => {
    log?.info({ event: 'shutdown', signal: sig }, 'stopping: aborting the cycle in flight');
    ac.abort(new Error(`received ${sig}`));
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return { signal: ac.signal, dispose: () => (process.off('SIGTERM', onTerm), process.off('SIGINT', onInt)) };
}

async function runWatch(c: MonitorConfig): Promise<number> {
  return withMonitor(c, async (m, log) => {
    const metrics = (await metricsModule()).createMetrics();
    const progress = (await progressModule()).createProgress({ enabled: c.progress, stream: process.stderr });
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
    const waker = createWaker();
    const onHup = () => waker.wake();
    process.on('SIGHUP', onHup);
    try {
      return await watchLoop(cycle, waker, {
        intervalMs: c.intervalMs, maxFailures: c.maxFailures, log: log.child({ component: 'watch' }), shutdown: signal,
        onOutcome: (o) => {
          if (o.kind === 'updated') log.info({ event: 'updated', version: o.version, previous: o.previous, bytes: o.bytes, fetchedBytes: o.fetchedBytes, files: o.files }, `now serving ${o.version}`);
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
  return withMonitor(c, async (m, log) => {
    const { signal, dispose } = shutdownSignal(log);
    const progress = (await progressModule()).createProgress({ enabled: c.progress, stream: process.stderr });
    try {
      const o = await m.cycle(signal, progress);
      if (o.kind === 'updated') log.info({ event: 'updated', version: o.version, previous: o.previous, bytes: o.bytes, fetchedBytes: o.fetchedBytes, files: o.files }, `now serving ${o.version}`);
      else if (o.kind === 'current') log.info({ event: 'current', version: o.version }, 'served model is current');
      else if (o.kind === 'no-donefile') log.error({ event: 'no-donefile' }, `no donefile at ${c.displayUrl}/${c.remoteDonefile}`);
      else log.warn({ event: 'rejected' }, 'this donefile was rejected before (validate or rollback); waiting for a new one');
      return o.kind === 'updated' || o.kind === 'current' ? 0 : 1;
    } catch (err) {
      log.error({ event: 'sync-failed', err }, `sync failed; the served model is unchanged: ${(err as Error).message}`);
      return 1;
    } finally {
      progress.stop();
      dispose();
    }
  });
}

async function runRollback(c: MonitorConfig): Promise<number> {
  return withMonitor(c, async (m, log) => {
    const r = await m.rollback();
    log.info({ event: 'rolled-back', version: r.version }, `rolled back: now serving ${r.version}`);
    return 0;
  });
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const specs = allOptions();
  let result = 0;
  const program = new Command('model-monitor')
    .description('Keep a served model in step with a remote store: detect, pull, verify, swap atomically, reload.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText('after', "\nwatch, sync, rollback and status take the same flags: see 'model-monitor sync --help'.\nPaddle Serving's spellings work too (--ftp_ip, --local_tmp_dir, --local_donefile_name).");
  const commands: [Cmd, string, (c: MonitorConfig) => Promise<number>][] = [
    ['watch', 'poll forever; sync on every donefile change (the default)', runWatch],
    ['sync', 'one cycle: pull if the donefile differs from what is served, then exit (0 current, 1 failed)', runSync],
    ['rollback', 'swap the newest backup back in and fire the reload triggers', runRollback],
    ['status', 'what is served, from which donefile, when, backups kept (--json)', (c) => printStatus(c, io.out)],
    ['demo', 'embedded FTP server + a producer + watch, in a temp dir', async () => (await import('./demo.js')).runDemo(io)],
  ];
  for (const [name, desc, action] of commands) {
    const cmd = program.command(name, { isDefault: name === 'watch' }).description(desc).allowExcessArguments(false);
    if (name !== 'demo') addOptions(cmd, specs);
    cmd.action(async () => {
      if (name === 'demo') {
        result = await action(undefined as unknown as MonitorConfig);
        return;
      }
      const { config, printed } = configFrom(name, cmd, specs, io);
      result = printed ? 0 : await action(config);
    });
  }
  addPublishCommand(program, specs, io, (code) => (result = code));
  try {
    await program.parseAsync(normalizeArgv(argv.slice(2), specs), { from: 'user' });
    return result;
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CliIo): number {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    io.err(`model-monitor: ${String(e.message).replace(/^error: /, '').replace(/\s*\n\s*\((Did you mean .+\?)\)\s*$/, ' ($1)')}\n`);
    return 2;
  }
  if (err instanceof ConfigError || err instanceof LockedError) {
    io.err(`model-monitor: ${err.message}\n`);
    return 2;
  }
  if (err instanceof MonitorError) {
    io.err(`model-monitor: ${err.message}\n`);
    return 1;
  }
  io.err(`model-monitor: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
