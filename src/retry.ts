import pRetry, { AbortError } from 'p-retry';
import { withDeadline } from './deadline.js';
import { isRetryable } from './errors.js';
import type { Logger } from './log.js';
import { retryMessage, retryWindow } from './retry-log.js';

export interface RetryOptions {
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Attempts after the first (--retries). */
  readonly retries: number;
  /** What is being retried, for the log. */
  readonly what: string;
  /** First backoff (ms); doubles each time, capped at maxTimeoutMs. */
  readonly minTimeoutMs?: number;
  readonly maxTimeoutMs?: number;
}

/**
 * p-retry around one idempotent operation (a stat, one file's download), never
 * a whole cycle and never a swap. Only errors with `retryable: true` are
 * retried; programming errors and permanent refusals stop at once.
 */
export async function withRetry<T>(op: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  return pRetry(
    async (attempt) => {
      try {
        return await op(attempt);
      } catch (err) {
        if (!isRetryable(err)) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
    },
    {
      retries: o.retries,
      signal: o.signal,
      minTimeout: o.minTimeoutMs ?? 250,
      maxTimeout: o.maxTimeoutMs ?? 10_000,
      randomize: true,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        // At info, one line per retry: a wrong port shows at once, not after the last attempt.
        if (retriesLeft > 0) {
          const window = retryWindow(attemptNumber, o.minTimeoutMs ?? 250, o.maxTimeoutMs ?? 10_000);
          o.log.info(
            { event: 'retry', what: o.what, attempt: attemptNumber, retriesLeft, err: error },
            retryMessage(error, o.what, attemptNumber, o.retries, window),
          );
        }
      },
    },
  ); // p-retry rethrows an AbortError's original error, so callers see our MonitorErrors as they are
}

/**
 * One idempotent remote operation: each attempt runs under its own deadline
 * (`timeoutMs`, held by a strong timer: see deadline.ts) and failures that say
 * they are retryable are retried with backoff.
 */
export function remoteOp<T>(op: (signal: AbortSignal, attempt: number) => Promise<T>, o: RetryOptions & { readonly timeoutMs: number }): Promise<T> {
  return withRetry((attempt) => withDeadline(o.signal, o.timeoutMs, o.what, (s) => op(s, attempt)), o);
}
