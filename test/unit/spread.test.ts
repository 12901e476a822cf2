import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { spreadBeforePull, spreadDelay } from '../../src/spread.js';

describe('spreadDelay', () => {
  it('is uniform in [0, max): the random draw scaled, whole milliseconds, never max itself', () => {
    expect(spreadDelay(10_000, () => 0)).toBe(0);
    expect(spreadDelay(10_000, () => 0.25)).toBe(2_500);
    expect(spreadDelay(10_000, () => 0.99999999)).toBe(9_999);
    expect(spreadDelay(0, () => 0.5)).toBe(0);
  });
});

describe('spreadBeforePull', () => {
  const ctx = (signal = new AbortController().signal) => ({ signal, log: silentLogger() });

  it("waits this replica's draw (an injected clock: no real sleep) and says how long", async () => {
    const waited: number[] = [];
    const ms = await spreadBeforePull(30_000, ctx(), { random: () => 0.5, wait: async (n) => void waited.push(n) });
    expect(ms).toBe(15_000);
    expect(waited).toEqual([15_000]);
  });

  it('--spread 0 (the default) never waits', async () => {
    const waited: number[] = [];
    expect(await spreadBeforePull(0, ctx(), { wait: async (n) => void waited.push(n) })).toBe(0);
    expect(waited).toEqual([]);
  });

  it('a fleet of 200 replicas spreads over the whole window', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const delays = Array.from({ length: 200 }, () => spreadDelay(60_000, random));
    const perTenSeconds = [0, 1, 2, 3, 4, 5].map((i) => delays.filter((d) => d >= i * 10_000 && d < (i + 1) * 10_000).length);
    expect(Math.min(...perTenSeconds)).toBeGreaterThan(10); // no empty stretch: the herd is spread
    expect(Math.max(...delays)).toBeLessThan(60_000);
  });

  it('a shutdown ends the wait at once with an AbortedError', async () => {
    const ac = new AbortController();
    const p = spreadBeforePull(60_000, ctx(ac.signal), { random: () => 0.9 });
    ac.abort(new Error('received SIGTERM'));
    await expect(p).rejects.toBeInstanceOf(AbortedError);
  });
});
