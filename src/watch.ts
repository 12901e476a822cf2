/**
 * The loop only schedules and counts failures (git-sync): interval with ±10 %
 * jitter so a fleet does not poll in step, exponential backoff after failures,
 * SIGHUP = check now (wake()), shutdown = abort the cycle in flight and return.
 */
import { failureLine, MonitorError } from './errors.js';
import type { Logger } from './log.js';
import type { CycleOutcome } from './cycle.js';

export interface WatchOptions {
  readonly intervalMs: number;
  readonly maxFailures: number | null;
  readonly log: Logger;
  /** Aborted on SIGTERM / SIGINT. */
  readonly shutdown: AbortSignal;
  readonly onOutcome?: (o: CycleOutcome | { kind: 'failed'; err: unknown }) => void;
}

export interface Waker {
  wake(): void;
  /** Resolves after `ms`, on wake(), or on abort. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export function createWaker(): Waker {
  let poke: (() => void) | null = null;
  let pending = false;
  return {
    wake() {
      if (poke) poke();
      else pending = true;
    },
    sleep(ms, signal) {
      if (pending || signal.aborted) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          poke = null;
          resolve();
        };
        const t = setTimeout(done, ms);
        poke = done;
        signal.addEventListener('abort', done, { once: true });
      });
    },
  };
}

export function jitter(ms: number, rand = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * rand()));
}

const MAX_BACKOFF_MS = 5 * 60_000;

export function backoff(intervalMs: number, failures: number): number {
  if (failures === 0) return intervalMs;
  return Math.min(intervalMs * 2 ** (failures - 1), Math.max(intervalMs, MAX_BACKOFF_MS));
}

function errorKey(err: unknown): string {
  return err instanceof MonitorError ? `${err.code}:${err.message}` : String(err);
}

/** Runs cycles until shutdown; returns the exit code (0, or 1 after --max-failures). */
export async function watchLoop(cycle: (signal: AbortSignal) => Promise<CycleOutcome>, waker: Waker, o: WatchOptions): Promise<number> {
  let failures = 0;
  let lastKey = '';
  while (!o.shutdown.aborted) {
    try {
      const out = await cycle(o.shutdown);
      o.log.debug({ event: 'cycle', outcome: out.kind }, 'cycle done');
      o.onOutcome?.(out);
      if (out.kind === 'no-donefile' && lastKey !== 'no-donefile') o.log.info({ event: 'no-donefile' }, 'no donefile yet; waiting');
      lastKey = out.kind === 'no-donefile' ? 'no-donefile' : '';
      failures = 0;
    } catch (err) {
      if (o.shutdown.aborted) break;
      failures++;
      o.onOutcome?.({ kind: 'failed', err });
      const key = errorKey(err);
      const level = key === lastKey ? 'debug' : 'error';
      o.log[level]({ event: 'sync-failed', failures, err }, failureLine(err));
      lastKey = key;
      if (o.maxFailures !== null && failures >= o.maxFailures) {
        o.log.error({ event: 'max-failures', failures }, `giving up after ${failures} consecutive failed cycles`);
        return 1;
      }
    }
    await waker.sleep(jitter(backoff(o.intervalMs, failures)), o.shutdown);
  }
  return 0;
}
