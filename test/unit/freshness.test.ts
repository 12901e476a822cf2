import { describe, expect, it } from 'vitest';
import { Freshness } from '../../src/freshness.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** A tracker serving v1, confirmed fresh at t = 1 000 000, then 10 s later. */
function confirmedV1() {
  const c = clock();
  const f = new Freshness({ servedFingerprint: v1.fingerprint }, c.now);
  f.aspired(v1);
  f.outcome('current');
  c.advance(10_000);
  return { c, f };
}

const v1 = { version: 'v1', fingerprint: 'mtime:1' };
const v2 = { version: 'v2', fingerprint: 'mtime:2' };

describe('Freshness', () => {
  it('is fresh while every poll confirms the served version is the newest', () => {
    const c = clock();
    const f = new Freshness({ servedFingerprint: v1.fingerprint }, c.now);
    for (let i = 0; i < 3; i++) {
      c.advance(10_000);
      f.aspired(v1);
      f.outcome('current');
    }
    expect(f.stalenessSeconds()).toBe(0);
    expect(f.view().remote).toEqual({ ...v1, seenAt: 1_010_000 });
  });

  it('a newer version seen: stale from the last confirmation, growing until it is served', () => {
    const { c, f } = confirmedV1();
    f.aspired(v2); // the pull starts
    expect(f.view().staleSince).toBe(1_000_000);
    c.advance(5_000);
    expect(f.stalenessSeconds()).toBe(15);
    c.advance(20_000);
    expect(f.stalenessSeconds()).toBe(35);
    f.outcome('updated');
    expect(f.stalenessSeconds()).toBe(0);
    expect(f.view().remote?.fingerprint).toBe(v2.fingerprint);
    c.advance(10_000);
    f.aspired(v2);
    expect(f.stalenessSeconds()).toBe(0); // v2 is what it serves now
  });

  it('an unreachable remote: failed cycles count as stale, from the last confirmation', () => {
    const { c, f } = confirmedV1();
    f.outcome('failed');
    expect(f.stalenessSeconds()).toBe(10);
    c.advance(30_000);
    f.outcome('failed');
    expect(f.stalenessSeconds()).toBe(40);
    f.aspired(v1);
    f.outcome('current'); // reachable again, nothing new
    expect(f.stalenessSeconds()).toBe(0);
  });

  it('a monitor that never reached the remote is stale since it started', () => {
    const c = clock();
    const f = new Freshness({ servedFingerprint: null }, c.now);
    c.advance(3_000);
    f.outcome('failed');
    c.advance(2_000);
    expect(f.stalenessSeconds()).toBe(5);
    expect(f.view().remote).toBeNull();
  });

  it('a rejected newest version and a vanished donefile are stale too; a restart keeps the recorded staleSince', () => {
    const c = clock();
    const f = new Freshness({ servedFingerprint: v1.fingerprint }, c.now);
    c.advance(1_000);
    f.aspired(v2);
    f.outcome('skipped-rejected');
    expect(f.view().staleSince).toBe(1_000_000);
    f.outcome('no-donefile');
    expect(f.view().remote).toBeNull();
    const again = new Freshness({ servedFingerprint: v1.fingerprint, staleSince: 900_000 }, c.now);
    expect(again.stalenessSeconds()).toBe(101);
  });
});
