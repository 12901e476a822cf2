/**
 * --spread: a herd-safe rollout. When a fleet polls the same donefile, every
 * replica sees a new version within one --interval and would pull it in the
 * same second; each one waits a random delay in [0, --spread) first, so the
 * store (or the cache tier's first miss) sees the requests spread out. The
 * wait sits between detect and plan: the change is known, nothing is fetched.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { abortReason } from './errors.js';
import type { Logger } from './log.js';

export interface SpreadDeps {
  /** Uniform in [0, 1): Math.random, or a fixed sequence in tests. */
  readonly random?: () => number;
  /** Resolves after `ms`, rejects with the signal's reason on abort. */
  readonly wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The delay for one replica: uniform in [0, maxMs), whole milliseconds. */
export function spreadDelay(maxMs: number, random: () => number = Math.random): number {
  if (!(maxMs > 0)) return 0;
  return Math.min(maxMs - 1, Math.floor(random() * maxMs));
}

const abortableSleep = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }).then(() => undefined);

/**
 * Waits this replica's share of --spread before a detected change is pulled.
 * A shutdown ends the wait at once (an AbortedError, or the signal's MonitorError).
 */
export async function spreadBeforePull(maxMs: number, ctx: { signal: AbortSignal; log: Logger }, deps: SpreadDeps = {}): Promise<number> {
  const ms = spreadDelay(maxMs, deps.random);
  if (ms === 0) return 0;
  ctx.log.info({ event: 'spread', delayMs: ms, spreadMs: maxMs }, `waiting ${(ms / 1000).toFixed(1)} s before pulling (--spread)`);
  try {
    ctx.signal.throwIfAborted();
    await (deps.wait ?? abortableSleep)(ms, ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    throw err;
  }
  return ms;
}
