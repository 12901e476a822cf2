/**
 * A progress bar for pulls (--progress; on by default when stderr is a TTY):
 * started when the cycle has a plan, advanced by every chunk written, stopped
 * when the fetch phase ends (success or not). Disabled = no-op hooks.
 */
import { SingleBar } from 'cli-progress';
import type { CycleHooks } from './cycle.js';
import type { FetchPlan } from './plan.js';

export interface ProgressOptions {
  readonly enabled: boolean;
  /** Usually process.stderr, so the bar never mixes with JSON logs on stdout. */
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
}

export type Progress = CycleHooks & { stop(): void };

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → `1.5 KiB`. */
function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(Math.round(v)) : v.toFixed(1)} ${UNITS[i]}`;
}

const FORMAT = 'pulling {version} [{bar}] {percentage}% | {done}/{size} | {speed}/s | ETA {eta_formatted} | {files} files';

interface Pull {
  readonly bar: SingleBar;
  readonly t0: number;
  done: number;
}

export function createProgress(o: ProgressOptions): Progress {
  if (!o.enabled) return { stop() {} };
  let pull: Pull | null = null;

  const payload = (p: Pull) => {
    const secs = Math.max((performance.now() - p.t0) / 1000, 0.001);
    return { done: humanBytes(p.done), speed: humanBytes(p.done / secs) };
  };

  function stop(): void {
    if (!pull) return;
    pull.bar.update(pull.done, payload(pull));
    pull.bar.stop();
    pull = null;
  }

  function onPlan(plan: FetchPlan): void {
    stop();
    const bar = new SingleBar({
      format: FORMAT,
      stream: o.stream,
      // --progress given explicitly without a TTY: a plain line every few seconds instead of redraws.
      noTTYOutput: o.stream.isTTY !== true,
      notTTYSchedule: 2000,
      hideCursor: o.stream.isTTY === true,
      etaBuffer: 50,
      barsize: 24,
    });
    pull = { bar, t0: performance.now(), done: 0 };
    bar.start(Math.max(plan.totalBytes, 1), 0, {
      version: plan.aspired.version,
      size: humanBytes(plan.totalBytes),
      files: plan.files.length,
      ...payload(pull),
    });
  }

  function onBytes(n: number): void {
    if (!pull) return;
    pull.done += n;
    pull.bar.update(pull.done, payload(pull));
  }

  function onPhase(phase: string): void {
    if (phase === 'fetch') stop();
  }

  return { onPlan, onBytes, onPhase, stop };
}
