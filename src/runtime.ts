/**
 * The process around a command: the shared terminal, the logger (with the
 * secret options' redaction), the progress bar, the shutdown signal. Built by
 * the composition root (monitor-run.ts) and the commands that run no monitor
 * (preheat); cli.ts never builds them.
 */
import { allOptions } from './config.js';
import { createLogger, type Logger } from './log.js';
import { redactPaths, type OptionSpec } from './options.js';
import { createTerminal, type Terminal } from './terminal.js';
import type { CoreValues } from './values.js';

/** Loaded when a command needs it: a `status` or a bad flag should not pay for it. */
const progressModule = () => import('./progress.js');

/** Log lines and the progress bar share the terminal (see terminal.ts). */
export const terminal = (): Terminal => createTerminal(process.stdout, process.stderr);

/** The logger of a command: redaction paths from every secret option (allOptions() and the command's own). */
export function loggerFor(c: CoreValues, term: Terminal, own: readonly OptionSpec[] = []): Logger {
  return createLogger({ level: c.logLevel, format: c.logFormat, terminal: term, redact: redactPaths([...allOptions(), ...own]) });
}

export async function progressFor(c: CoreValues, term: Terminal) {
  return (await progressModule()).createProgress({ enabled: c.progress, terminal: term });
}

/** Aborted on SIGTERM or SIGINT (`after` says what that stops, in the log line). dispose() takes the handlers off. */
export function shutdownSignal(log: Logger | null, after = 'aborting the cycle in flight'): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (sig: string) => {
    log?.info({ event: 'shutdown', signal: sig }, `stopping: ${after}`);
    ac.abort(new Error(`received ${sig}`));
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return { signal: ac.signal, dispose: () => (process.off('SIGTERM', onTerm), process.off('SIGINT', onInt)) };
}
