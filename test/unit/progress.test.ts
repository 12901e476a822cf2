import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FetchPlan } from '../../src/plan.js';
import { createProgress } from '../../src/progress.js';

/** A writable that records everything and can pretend to be a terminal. */
function sink(isTTY: boolean) {
  let out = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  w.isTTY = isTTY;
  w.columns = 200;
  return { stream: w, text: () => out, reset: () => (out = '') };
}

function plan(totalBytes: number, files = 3): FetchPlan {
  return {
    aspired: { version: '20260101T000000Z-abc', fingerprint: 'mtime:1', remoteModel: 'model' },
    archive: false,
    manifest: null,
    files: Array.from({ length: files }, (_, i) => ({ path: `f${i}`, remote: `model/f${i}`, size: totalBytes / files })),
    totalBytes,
  };
}

const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');

describe('createProgress', () => {
  it('is a silent no-op when disabled', () => {
    const s = sink(true);
    const p = createProgress({ enabled: false, stream: s.stream });
    p.onPlan?.(plan(3 * 1024));
    p.onBytes?.(100);
    p.onPhase?.('fetch', 5);
    p.stop();
    expect(s.text()).toBe('');
  });

  it('draws a bar with bytes, rate, ETA and files on plan, and finishes it when fetch ends', () => {
    const s = sink(true);
    const p = createProgress({ enabled: true, stream: s.stream });
    p.onPlan?.(plan(3 * 1024 * 1024));
    const first = plain(s.text());
    expect(first).toContain('pulling 20260101T000000Z-abc');
    expect(first).toContain('0%');
    expect(first).toContain('3.0 MiB');
    expect(first).toMatch(/ETA/);
    expect(first).toContain('3 files');
    p.onBytes?.(1024 * 1024);
    p.onBytes?.(2 * 1024 * 1024);
    p.onPhase?.('fetch', 10);
    const all = plain(s.text());
    expect(all).toContain('100%');
    expect(all).toContain('3.0 MiB/3.0 MiB');
    expect(all).toMatch(/\/s/);
    s.reset();
    p.onBytes?.(5);
    p.stop();
    expect(s.text()).toBe('');
  });

  it('ignores phases other than fetch and bytes before any plan', () => {
    const s = sink(true);
    const p = createProgress({ enabled: true, stream: s.stream });
    p.onBytes?.(10);
    p.onPhase?.('detect', 1);
    expect(s.text()).toBe('');
    p.onPlan?.(plan(1000));
    p.onPhase?.('plan', 1);
    s.reset();
    p.stop();
    expect(plain(s.text())).toContain('pulling');
  });

  it('starts a fresh bar for the next pull', () => {
    const s = sink(true);
    const p = createProgress({ enabled: true, stream: s.stream });
    p.onPlan?.(plan(1000));
    p.onBytes?.(1000);
    p.onPhase?.('fetch', 1);
    s.reset();
    p.onPlan?.(plan(2048, 1));
    expect(plain(s.text())).toContain('0 B/2.0 KiB');
    expect(plain(s.text())).toContain('1 files');
    p.stop();
  });

  it('an empty plan (all reused) does not divide by zero', () => {
    const s = sink(true);
    const p = createProgress({ enabled: true, stream: s.stream });
    p.onPlan?.(plan(0, 0));
    p.onPhase?.('fetch', 1);
    expect(plain(s.text())).not.toMatch(/NaN|Infinity/);
  });

  it('writes plain lines when forced on without a TTY', () => {
    const s = sink(false);
    const p = createProgress({ enabled: true, stream: s.stream });
    p.onPlan?.(plan(1000));
    p.onBytes?.(1000);
    p.stop();
    expect(s.text()).toContain('pulling');
    expect(s.text()).toContain('100%');
  });
});
