/**
 * Per-operation deadlines held by timers of our own. On Node 20 an
 * `AbortSignal.timeout()` combined with `AbortSignal.any()` is referenced only
 * weakly: once garbage-collected it never fires (seen here: an FTP server
 * trickling its greeting held `--timeout 5 --retries 1` for 209 s; a forced GC
 * held `--retries 0` for 38 s). Here the controller is held by the timer's
 * closure and by a listener on the parent signal, so it lives as long as either
 * can still abort it. Clear every deadline when its operation ends
 * (withDeadline() does), or its parent keeps a listener until it aborts.
 */

/** The reason a deadline aborts with: abortReason() maps it to a TransientError. */
export class DeadlineError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} timed out after ${formatMs(ms)}`);
  }
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export interface Deadline {
  /** Aborted when the parent aborts (with its reason) or when the time is up (with a DeadlineError). */
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the parent. Idempotent. */
  clear(): void;
}

/** A signal that aborts with `parent`, or after `ms` with a DeadlineError naming `what`. */
export function deadline(parent: AbortSignal, ms: number, what = 'operation'): Deadline {
  const ac = new AbortController();
  if (parent.aborted) {
    ac.abort(parent.reason);
    return { signal: ac.signal, clear: () => {} };
  }
  const onParent = () => {
    clear();
    ac.abort(parent.reason);
  };
  // unref: a deadline guards an operation; it must not keep a finished process alive by itself.
  const timer = setTimeout(() => {
    clear();
    ac.abort(new DeadlineError(what, ms));
  }, ms).unref();
  function clear(): void {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParent);
  }
  parent.addEventListener('abort', onParent, { once: true });
  return { signal: ac.signal, clear };
}

/** Runs `fn` under a deadline and clears it however `fn` ends. */
export async function withDeadline<T>(parent: AbortSignal, ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadline(parent, ms, what);
  try {
    return await fn(d.signal);
  } finally {
    d.clear();
  }
}

/** A signal that never aborts: for steps that must run to their end (a swap, a reload after it). */
export const NEVER: AbortSignal = new AbortController().signal;

/**
 * A signal that aborts when any of `signals` does, held strongly (unlike
 * AbortSignal.any on Node 20): for a pool that cancels its siblings.
 */
export function linked(...signals: AbortSignal[]): { signal: AbortSignal; abort(reason: unknown): void; dispose(): void } {
  const ac = new AbortController();
  const listeners = signals.map((s) => {
    const on = () => ac.abort(s.reason);
    if (s.aborted) ac.abort(s.reason);
    else s.addEventListener('abort', on, { once: true });
    return () => s.removeEventListener('abort', on);
  });
  return { signal: ac.signal, abort: (r) => ac.abort(r), dispose: () => listeners.forEach((off) => off()) };
}
