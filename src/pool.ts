/** A bounded pool: at most `n` workers at once over a list; the first failure cancels the rest. */
import { setMaxListeners } from 'node:events';
import { linked } from './deadline.js';

/**
 * Runs `worker` over `items` with at most `n` at once, in order of the list;
 * the results keep the list's order. The first failure aborts the signal the
 * other workers hold and is the one thrown (not the aborts it caused).
 */
export async function pool<T, R>(items: readonly T[], n: number, signal: AbortSignal, worker: (item: T, s: AbortSignal) => Promise<R>): Promise<R[]> {
  const ac = linked(signal);
  const s = ac.signal;
  // Each in-flight transfer listens for abort on this one signal.
  setMaxListeners(Math.max(10, n * 4), s);
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      s.throwIfAborted();
      const i = next++;
      try {
        out[i] = await worker(items[i]!, s);
      } catch (err) {
        ac.abort(err);
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(n, items.length) }, run));
  ac.dispose();
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) throw s.aborted && !signal.aborted ? s.reason : failed[0]!.reason;
  return out;
}
