import { describe, expect, it } from 'vitest';
import type { FetchPlan } from '../../src/plan.js';
import { createProgress, progressLine } from '../../src/progress.js';
import { createTerminal, type TermStream } from '../../src/terminal.js';

/** A stream that records everything and can pretend to be a terminal. */
function sink(isTTY: boolean, columns = 200) {
  let out = '';
  const stream: TermStream = { write: (s: string) => (out += s), isTTY, columns };
  return { stream, text: () => out, reset: () => (out = '') };
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

const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n');

function setup(tty: boolean) {
  const out = sink(tty);
  const err = sink(tty);
  const p = createProgress({ enabled: true, terminal: createTerminal(out.stream, err.stream) });
  return { out, err, p };
}

describe('createProgress', () => {
  it('is a silent no-op when disabled', () => {
    const err = sink(true);
    const p = createProgress({ enabled: false, terminal: createTerminal(sink(true).stream, err.stream) });
    p.onPlan?.(plan(3 * 1024));
    p.onBytes?.(100);
    p.onPhase?.('fetch', 5);
    p.stop();
    expect(err.text()).toBe('');
  });

  it('draws a bar with bytes, rate, ETA and files done of the total; finishes it as a line when fetch ends', () => {
    const { err, p } = setup(true);
    p.onPlan?.(plan(3 * 1024 * 1024));
    const first = plain(err.text());
    expect(first).toContain('pulling 20260101T000000Z-abc');
    expect(first).toContain('0%');
    expect(first).toContain('3.0 MiB');
    expect(first).toMatch(/ETA/);
    expect(first).toContain('0/3 files');
    p.onBytes?.(1024 * 1024);
    p.onFile?.('f0');
    p.onBytes?.(2 * 1024 * 1024);
    p.onFile?.('f1');
    p.onFile?.('f2');
    p.onPhase?.('fetch', 10);
    const all = plain(err.text());
    expect(all).toContain('100%');
    expect(all).toContain('3.0 MiB/3.0 MiB');
    expect(all).toContain('3/3 files');
    expect(all.endsWith('\n')).toBe(true); // committed: the next output starts on a fresh line
    err.reset();
    p.onBytes?.(5);
    p.stop();
    expect(err.text()).toBe('');
  });

  it('the file count is files done: it moves with onFile, never past the total', () => {
    const line = (filesDone: number) => progressLine({ version: 'v', total: 10, files: 2, done: 5, filesDone }, 1000);
    expect(line(0)).toMatch(/\| 0\/2 files$/);
    expect(line(1)).toMatch(/\| 1\/2 files$/);
    const { err, p } = setup(true);
    p.onPlan?.(plan(30, 2));
    for (let i = 0; i < 5; i++) p.onFile?.(`f${i}`);
    p.stop();
    expect(plain(err.text())).toContain('2/2 files');
    expect(plain(err.text())).not.toContain('3/2');
  });

  it('ignores phases other than fetch and bytes before any plan', () => {
    const { err, p } = setup(true);
    p.onBytes?.(10);
    p.onPhase?.('detect', 1);
    expect(err.text()).toBe('');
    p.onPlan?.(plan(1000));
    p.onPhase?.('plan', 1);
    err.reset();
    p.stop();
    expect(plain(err.text())).toContain('pulling');
  });

  it('starts a fresh bar for the next pull', () => {
    const { err, p } = setup(true);
    p.onPlan?.(plan(1000));
    p.onBytes?.(1000);
    p.onPhase?.('fetch', 1);
    err.reset();
    p.onPlan?.(plan(2048, 1));
    expect(plain(err.text())).toContain('0 B/2.0 KiB');
    expect(plain(err.text())).toContain('0/1 files');
    p.stop();
  });

  it('an empty plan (all reused) does not divide by zero', () => {
    const { err, p } = setup(true);
    p.onPlan?.(plan(0, 0));
    p.onPhase?.('fetch', 1);
    expect(plain(err.text())).not.toMatch(/NaN|Infinity/);
  });

  it('writes plain lines when forced on without a TTY', () => {
    const { err, p } = setup(false);
    p.onPlan?.(plan(1000));
    p.onBytes?.(1000);
    p.stop();
    expect(err.text()).toContain('pulling');
    expect(err.text()).toContain('100%');
    expect(err.text()).not.toMatch(/\r|\u001b/); // no redraw codes in a log file
  });
});
