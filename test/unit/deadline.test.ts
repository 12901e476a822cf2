import { describe, expect, it } from 'vitest';
import { deadline, DeadlineError, linked, withDeadline } from '../../src/deadline.js';
import { abortReason, TransientError } from '../../src/errors.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Resolves with the signal's reason once it aborts (or 'never' after `ms`, for the failing case). */
function whenAborted(s: AbortSignal, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('never'), ms);
    s.addEventListener('abort', () => (clearTimeout(t), resolve(s.reason)), { once: true });
  });
}

describe('deadline', () => {
  it('fires with a DeadlineError naming the operation, which abortReason() maps to a TransientError', async () => {
    const d = deadline(new AbortController().signal, 5, 'stat donefile');
    const reason = await whenAborted(d.signal, 10_000);
    expect(reason).toBeInstanceOf(DeadlineError);
    expect((reason as Error).name).toBe('TimeoutError');
    const e = abortReason(d.signal);
    expect(e).toBeInstanceOf(TransientError);
    expect(e.message).toBe('stat donefile timed out after 5 ms');
  });

  it('follows its parent, and clear() stops both', async () => {
    const parent = new AbortController();
    const child = deadline(parent.signal, 60_000);
    parent.abort(new Error('stop'));
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as Error).message).toBe('stop');
    const p2 = new AbortController();
    const cleared = deadline(p2.signal, 5);
    cleared.clear();
    p2.abort(new Error('late'));
    expect(await whenAborted(cleared.signal, 50)).toBe('never');
  });

  it.skipIf(!gc)('still fires when nothing but the awaited operation refers to it, under forced collections', async () => {
    // The shape that never fired on Node 20 with AbortSignal.any([s, AbortSignal.timeout(ms)]).
    const op = async () => {
      const d = deadline(new AbortController().signal, 100, 'greeting');
      await new Promise((_res, rej) => d.signal.addEventListener('abort', () => rej(d.signal.reason), { once: true }));
    };
    const pressure = setInterval(() => gc!(), 5);
    try {
      const outcome = await Promise.race([op().catch((e: Error) => e.message), new Promise((r) => setTimeout(() => r('never fired'), 5000))]);
      expect(outcome).toBe('greeting timed out after 100 ms');
    } finally {
      clearInterval(pressure);
    }
  });

  it('withDeadline clears its timer when the operation ends first', async () => {
    const parent = new AbortController();
    expect(await withDeadline(parent.signal, 60_000, 'x', async () => 7)).toBe(7);
    // no listener is left on the parent: aborting it now reaches nothing of ours
    await expect(withDeadline(parent.signal, 60_000, 'x', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

describe('linked', () => {
  it('aborts when any source does, or by hand', () => {
    const a = new AbortController();
    const l = linked(a.signal, new AbortController().signal);
    expect(l.signal.aborted).toBe(false);
    a.abort(new Error('a'));
    expect((l.signal.reason as Error).message).toBe('a');
    const m = linked(new AbortController().signal);
    m.abort(new Error('me'));
    expect(m.signal.aborted).toBe(true);
    m.dispose();
  });
});
