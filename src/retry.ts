/**
 * The one remote-operation helper: p-retry around one idempotent operation (a
 * stat, a small read, a listing, one file's or one part's download), never a
 * whole cycle and never a swap, each attempt under its own deadline held by a
 * strong timer (deadline.ts). p-retry's `shouldRetry` reads only
 * isRetryable(): programming errors and permanent refusals stop at once.
 */
import pRetry from 'p-retry';
import { withDeadline } from './deadline.js';
import { isRetryable } from './errors.js';
import type { Logger } from './log.js';
import { retryMessage, retryWindow } from './retry-log.js';

export interface RemoteOpOptions {
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Attempts after the first (--retries). */
  readonly retries: number;
  /** What is being retried, for the log and the deadline's error. */
  readonly what: string;
  /**
   * Each attempt's deadline (--timeout), or null for an operation that bounds
   * itself: a download, whose stall timer fails a stream that stops or trickles
   * (a whole-file deadline would fail any big file), or a listing, each of whose
   * requests has the deadline.
   */
  readonly timeoutMs: number | null;
  /** First backoff (ms); doubles each time, capped at maxTimeoutMs. */
  readonly minTimeoutMs?: number;
  readonly maxTimeoutMs?: number;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

/** Runs `op` until it succeeds, fails for good, or the retries are spent. Callers see our MonitorErrors as they are. */
export function remoteOp<T>(op: (signal: AbortSignal, attempt: number) => Promise<T>, o: RemoteOpOptions): Promise<T> {
  const min = o.minTimeoutMs ?? MIN_BACKOFF_MS;
  const max = o.maxTimeoutMs ?? MAX_BACKOFF_MS;
  const attempt = (n: number) => (o.timeoutMs === null ? op(o.signal, n) : withDeadline(o.signal, o.timeoutMs, o.what, (s) => op(s, n)));
  return pRetry(attempt, {
    retries: o.retries,
    signal: o.signal,
    minTimeout: min,
    maxTimeout: max,
    randomize: true,
    shouldRetry: ({ error }) => isRetryable(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      // At info, one line per retry: a wrong port shows at once, not after the last attempt.
      if (retriesLeft > 0 && isRetryable(error)) {
        o.log.info(
          { event: 'retry', what: o.what, attempt: attemptNumber, retriesLeft, err: error },
          retryMessage(error, o.what, attemptNumber, o.retries, retryWindow(attemptNumber, min, max)),
        );
      }
    },
  });
}
