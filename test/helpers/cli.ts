/**
 * Runs the real CLI (`node bin/model-monitor.js`, built by `npm test`'s pretest)
 * as a child process, and helpers to wait on its JSON log lines. No sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'model-monitor.js');

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly event?: string;
  readonly [k: string]: unknown;
}

export interface Running {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /** Everything written to stdout, as is. */
  readonly stdout: () => string;
  /** Resolves with the first log line (past or future) matching `pred`. */
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Count of lines matching. */
  count(pred: (l: LogLine) => boolean): number;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Arguments for node itself, before the bin (e.g. `--expose-gc`). */
  readonly nodeArgs?: readonly string[];
  /** Run as this user and group (the test runs as root: to see what an unprivileged service sees). */
  readonly uid?: number;
  readonly gid?: number;
}

/** Node flags that force a full garbage collection every 20 ms in the CLI (deadline tests). */
export const GC_PRESSURE = ['--expose-gc', '--import', pathToFileURL(path.join(ROOT, 'test', 'helpers', 'gc-pressure.mjs')).href];

export function start(args: readonly string[], o: StartOptions = {}): Running {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), BIN, ...args], {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, MODEL_MONITOR_LOG_FORMAT: 'json', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    ...(o.gid !== undefined ? { gid: o.gid } : {}),
  });
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let err = '';
  let out = '';
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let l: LogLine;
      try {
        l = JSON.parse(raw) as LogLine;
      } catch {
        l = { level: 30, msg: raw };
      }
      lines.push(l);
      for (const w of [...waiters]) {
        if (!w.pred(l)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => err,
    stdout: () => out,
    exited,
    count: (pred) => lines.filter(pred).length,
    waitFor(pred, what, timeoutMs = 30_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${err}`)),
          timeoutMs,
        );
        const w = { pred, resolve: (l: LogLine) => (clearTimeout(t), resolve(l)) };
        waiters.push(w);
        void exited.then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            reject(new Error(`exited (${code}) before ${what}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${err}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs to completion; returns exit code, stdout, stderr. */
export async function run(
  args: readonly string[],
  o: StartOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; lines: LogLine[] }> {
  const r = start(args, o);
  const t = setTimeout(() => r.child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  const code = await r.exited;
  clearTimeout(t);
  // let stdout drain
  await new Promise((res) => (r.child.stdout!.readableEnded ? res(null) : r.child.stdout!.once('end', res)));
  return { code, stdout: r.stdout(), stderr: r.stderr(), lines: r.lines };
}

export const updated = (l: LogLine) => l.event === 'updated';
