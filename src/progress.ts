/**
 * A progress bar for pulls (--progress; on by default when stderr is a TTY):
 * started when the cycle has a plan, advanced by every chunk written and every
 * file completed, finished when the fetch phase ends (success or not). It is
 * the terminal's status line, so log lines printed meanwhile land above it
 * instead of inside it. Without a TTY (--progress forced) it is a plain line
 * every two seconds. Disabled = no-op hooks.
 *
 * (cli-progress was used here before: its bar saves and restores the cursor
 * position and turns line wrapping off for the whole pull, so a log line
 * printed during a pull was cut at the screen edge and then overwritten.)
 */
import type { CycleHooks } from './cycle.js';
import type { FetchPlan } from './plan.js';
import type { Terminal } from './terminal.js';

export interface ProgressOptions {
  readonly enabled: boolean;
  readonly terminal: Terminal;
  /** Redraw period on a TTY (default 200 ms); plain lines come every 2 s. */
  readonly redrawMs?: number;
}

export type Progress = CycleHooks & { stop(): void };

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → `1.5 KiB`. */
export function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(Math.round(v)) : v.toFixed(1)} ${UNITS[i]}`;
}

/** 75 → `1m15s`; unknown → `?`. */
function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const BAR = 24;

interface Pull {
  readonly version: string;
  readonly total: number;
  readonly files: number;
  readonly t0: number;
  done: number;
  filesDone: number;
  readonly timer: NodeJS.Timeout;
}

/** `pulling V [=====-----] 42% | 4.2 MiB/10.0 MiB | 3.1 MiB/s | ETA 2s | 1/3 files` */
export function progressLine(p: Omit<Pull, 'timer' | 't0'>, elapsedMs: number): string {
  const frac = p.total > 0 ? Math.min(p.done / p.total, 1) : 1;
  const full = Math.round(frac * BAR);
  const rate = p.done / Math.max(elapsedMs / 1000, 0.001);
  const left = rate > 0 ? (p.total - p.done) / rate : Infinity;
  return `pulling ${p.version} [${'='.repeat(full)}${'-'.repeat(BAR - full)}] ${Math.floor(frac * 100)}% | ${humanBytes(p.done)}/${humanBytes(p.total)} | ${humanBytes(rate)}/s | ETA ${frac >= 1 ? '0s' : eta(left)} | ${p.filesDone}/${p.files} files`;
}

export function createProgress(o: ProgressOptions): Progress {
  if (!o.enabled) return { stop() {} };
  const term = o.terminal;
  let pull: Pull | null = null;
  const line = (p: Pull) => progressLine(p, performance.now() - p.t0);
  const draw = () => {
    if (pull) term.status(line(pull));
  };

  function stop(): void {
    if (!pull) return;
    clearInterval(pull.timer);
    if (term.live) {
      term.status(line(pull));
      term.commit();
    } else term.note(line(pull));
    pull = null;
  }

  function onPlan(plan: FetchPlan): void {
    stop();
    const tick = term.live ? draw : () => pull && term.note(line(pull));
    const timer = setInterval(tick, term.live ? (o.redrawMs ?? 200) : 2000);
    timer.unref();
    pull = { version: plan.aspired.version, total: plan.totalBytes, files: plan.files.length, t0: performance.now(), done: 0, filesDone: 0, timer };
    if (term.live) draw();
    else term.note(line(pull));
  }

  function onBytes(n: number): void {
    if (pull) pull.done += n;
  }

  function onFile(): void {
    if (pull) pull.filesDone = Math.min(pull.filesDone + 1, pull.files);
  }

  function onPhase(phase: string): void {
    if (phase === 'fetch') stop();
  }

  return { onPlan, onBytes, onFile, onPhase, stop };
}
