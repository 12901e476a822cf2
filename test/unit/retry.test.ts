/** remoteOp(): which failures are retried (isRetryable only), and each attempt's own deadline. */
import { describe, expect, it } from 'vitest';
import { abortReason, AuthError, TransientError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { remoteOp } from '../../src/retry.js';

const base = { signal: new AbortController().signal, log: silentLogger(), retries: 3, what: 'op', minTimeoutMs: 1, maxTimeoutMs: 2 };

describe('remoteOp retries exactly the retryable failures', () => {
  const cases: [string, () => unknown, number][] = [
    ['a TransientError: every retry', () => new TransientError('drop'), 4],
    ['an AuthError: once', () => new AuthError('denied'), 1],
    ['a programming error: once', () => new TypeError('x is undefined'), 1],
    ['a plain Error: once', () => new Error('not ours'), 1],
  ];
  it.each(cases)('%s', async (_what, make, attempts) => {
    const thrown = make();
    let n = 0;
    const err = await remoteOp(
      async () => {
        n++;
        throw thrown;
      },
      { ...base, timeoutMs: null },
    ).catch((e: unknown) => e);
    expect(err).toBe(thrown);
    expect(n).toBe(attempts);
  });

  it('succeeds on a later attempt and says which', async () => {
    const seen: number[] = [];
    const r = await remoteOp(
      async (_s, attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new TransientError('drop');
        return 'ok';
      },
      { ...base, timeoutMs: null },
    );
    expect([r, seen]).toEqual(['ok', [1, 2, 3]]);
  });
});

describe('each attempt under its own deadline', () => {
  it('a hanging attempt is aborted after timeoutMs, and the next one gets a fresh deadline', async () => {
    const signals: AbortSignal[] = [];
    const r = await remoteOp(
      (s, attempt) =>
        new Promise<string>((resolve, reject) => {
          signals.push(s);
          if (attempt === 2) return resolve('second');
          s.addEventListener('abort', () => reject(abortReason(s)), { once: true });
        }),
      { ...base, timeoutMs: 50 },
    );
    expect(r).toBe('second');
    expect(signals[0]!.aborted).toBe(true);
    expect(String((signals[0]!.reason as Error).message)).toMatch(/op timed out after 50 ms/);
    expect(signals[1]!.aborted).toBe(false);
  });

  it("timeoutMs null: the operation gets the caller's signal itself", async () => {
    const outer = new AbortController();
    let got: AbortSignal | null = null;
    await remoteOp(async (s) => void (got = s), { ...base, signal: outer.signal, timeoutMs: null });
    expect(got).toBe(outer.signal);
  });
});
