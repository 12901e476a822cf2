import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { TransientError } from '../../src/errors.js';
import { backoff, createWaker, jitter, watchLoop } from '../../src/watch.js';
import type { CycleOutcome } from '../../src/cycle.js';

describe('schedule', () => {
  it('jitters within ±10 %', () => {
    expect(jitter(1000, () => 0)).toBe(900);
    expect(jitter(1000, () => 1)).toBe(1100);
    expect(jitter(1000, () => 0.5)).toBe(1000);
  });
  it('backs off exponentially after failures, capped', () => {
    expect(backoff(10_000, 0)).toBe(10_000);
    expect(backoff(10_000, 1)).toBe(10_000);
    expect(backoff(10_000, 3)).toBe(40_000);
    expect(backoff(10_000, 30)).toBe(300_000);
    expect(backoff(600_000, 5)).toBe(600_000);
  });
});

describe('watchLoop', () => {
  it('wake() cuts the sleep short (SIGHUP = check now)', async () => {
    const waker = createWaker();
    const ac = new AbortController();
    let n = 0;
    const done = watchLoop(
      async () => {
        if (++n === 1) setImmediate(() => waker.wake());
        if (n === 2) ac.abort();
        return { kind: 'current', version: 'v' } as CycleOutcome;
      },
      waker,
      { intervalMs: 3_600_000, maxFailures: null, log: silentLogger(), shutdown: ac.signal },
    );
    expect(await done).toBe(0);
    expect(n).toBe(2);
  });
  it('exits 1 after --max-failures consecutive failures; a success resets the count', async () => {
    const seq = [false, false, true, false, false, false];
    let i = 0;
    const code = await watchLoop(
      async () => {
        if (!seq[i++]) throw new TransientError('down');
        return { kind: 'current', version: 'v' } as CycleOutcome;
      },
      createWaker(),
      { intervalMs: 1, maxFailures: 3, log: silentLogger(), shutdown: new AbortController().signal },
    );
    expect(code).toBe(1);
    expect(i).toBe(6);
  });
});
