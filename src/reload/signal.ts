/**
 * `--signal SIG --pidfile FILE` (or `--pid N`): send a signal after each swap,
 * e.g. SIGHUP to a gunicorn master, which starts new workers (they import the
 * app, and so load the new model, unless it runs with --preload) and stops the
 * old ones gracefully. The pidfile is read at fire time, every time: the
 * engine rewrites it when it restarts, and a pid read at start-up goes stale.
 */
import { constants } from 'node:os';
import { readFile } from 'node:fs/promises';
import { ConfigError, ReloadError } from '../errors.js';
import type { ReloadTrigger } from './types.js';

export interface SignalTriggerOptions {
  /** `SIGHUP` form (values.ts normalises `HUP` and `hup`). */
  readonly signal: string;
  readonly pidfile: string | null;
  readonly pid: number | null;
}

/** Throws ConfigError for a name the OS does not know (checked once, before any I/O). */
export function checkSignalName(sig: string): NodeJS.Signals {
  if (!Object.hasOwn(constants.signals, sig)) throw new ConfigError('signal', `unknown signal "${sig}"`);
  return sig as NodeJS.Signals;
}

/**
 * The pid in a pidfile: one positive integer (surrounding whitespace allowed).
 * 0 and negative numbers are refused: kill(0) and kill(-1) signal whole
 * process groups, never what a pidfile means.
 */
export function parsePid(text: string, from: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(n) || n < 1) {
    throw new ReloadError(`${from} does not hold a pid (got "${t.slice(0, 40)}")`);
  }
  return n;
}

async function pidFrom(o: SignalTriggerOptions, signal: AbortSignal): Promise<{ pid: number; from: string }> {
  if (o.pidfile === null) return { pid: o.pid!, from: '--pid' };
  let text: string;
  try {
    text = await readFile(o.pidfile, { encoding: 'utf8', signal });
  } catch (err) {
    throw new ReloadError(`cannot read pidfile ${o.pidfile}: ${(err as Error).message}`, { cause: err });
  }
  return { pid: parsePid(text, `pidfile ${o.pidfile}`), from: o.pidfile };
}

export function createSignalTrigger(o: SignalTriggerOptions): ReloadTrigger {
  if (o.pidfile === null && o.pid === null) throw new ConfigError('signal', 'needs --pidfile FILE or --pid N');
  const sig = checkSignalName(o.signal);
  return {
    name: `signal ${sig}`,
    async fire(e, ctx) {
      const { pid, from } = await pidFrom(o, ctx.signal);
      try {
        process.kill(pid, sig);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ESRCH') throw new ReloadError(`no process ${pid} (from ${from})`, { cause: err });
        if (code === 'EPERM') throw new ReloadError(`not allowed to signal process ${pid} (from ${from})`, { cause: err });
        throw new ReloadError(`cannot send ${sig} to process ${pid} (from ${from})`, { cause: err });
      }
      ctx.log.debug({ event: 'signalled', pid, signal: sig, version: e.version }, `sent ${sig} to ${pid}`);
    },
  };
}
