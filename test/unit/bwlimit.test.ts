import { expect, it } from 'vitest';
import { TokenBucket } from '../../src/bwlimit.js';

it('a token bucket lets a second of burst through, then asks callers to wait in proportion', () => {
  const b = new TokenBucket(1000);
  expect(b.take(1000)).toBe(0);
  const wait = b.take(500);
  expect(wait).toBeGreaterThanOrEqual(450);
  expect(wait).toBeLessThanOrEqual(500);
});
