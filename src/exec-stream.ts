// The streaming twin of src/exec.ts (execa with `buffer: false` for stdout): the second execa call site.
import { Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { linked } from './deadline.js';
import { childEnv, execaModule } from './exec.js';
import type { Logger } from './log.js';

/** How a streamed child failed: enough to classify it, nothing that holds its argv. */
export interface StreamFailure {
  readonly exitCode: number | undefined;
  readonly stderr: string;
  /** No stdout byte for idleTimeoutMs while the reader was waiting. */
  readonly timedOut: boolean;
  /** The caller's signal was aborted. */
  readonly isCanceled: boolean;
  /** The process could not be started (ENOENT, EACCES). */
  readonly spawnError: string | undefined;
}

export interface StreamRunOptions {
  /** Killed when no stdout byte arrives for this long while the reader waits (a slow reader is not idle). */
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Extra environment (over process.env less MODEL_MONITOR_*: see childEnv()). */
  readonly env?: Readonly<Record<string, string>>;
  /** The error `stdout` is destroyed with (and `started` rejects with) when the child fails. */
  readonly mapError: (f: StreamFailure) => Error;
}

export interface StreamingRun {
  /** The child's stdout. Ends only after a zero exit; a failure destroys it with mapError's error. */
  readonly stdout: Readable;
  /** Resolves at the first stdout byte or at a zero exit; rejects with mapError's error on a failure before that. */
  readonly started: Promise<void>;
}

/**
 * Runs `file args` (argv, never a shell) with stdout streamed instead of buffered.
 * Destroying `stdout` kills the child (SIGTERM, then SIGKILL after 2 s).
 */
export async function runStreaming(file: string, args: readonly string[], o: StreamRunOptions): Promise<StreamingRun> {
  o.log.debug({ event: 'exec', file, argc: args.length }, 'run (streaming)');
  const { execa } = await execaModule();
  const idle = linked(o.signal);
  const sub = execa(file, args, {
    cancelSignal: idle.signal,
    forceKillAfterDelay: 2000,
    env: childEnv(o.env),
    extendEnv: false,
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 1024 * 1024 },
    encoding: 'utf8',
    reject: true,
  });
  const started = latch();
  let idled = false;
  const watchdog = idleWatchdog(o.idleTimeoutMs, () => ((idled = true), idle.abort(new Error('idle'))));
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      watchdog.touch();
      started.resolve();
      cb(null, chunk);
    },
  });
  watchdog.watch(out);
  sub.stdout.pipe(out, { end: false });
  out.on('close', () => {
    if (sub.exitCode === null) sub.kill();
  });
  sub.then(
    async () => {
      await finished(sub.stdout).catch(() => {});
      watchdog.stop();
      idle.dispose();
      started.resolve();
      out.end();
    },
    (err: unknown) => {
      watchdog.stop();
      idle.dispose();
      const e = o.mapError(toFailure(err, idled && !o.signal.aborted));
      // before the first byte the rejection of `started` reports it; nobody may be listening yet
      if (!started.settled) out.on('error', () => {});
      started.reject(e);
      out.destroy(e);
    },
  );
  return { stdout: out, started: started.promise };
}

function latch() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // the caller may only read stdout
  const l = {
    promise,
    settled: false,
    resolve: () => ((l.settled = true), resolve()),
    reject: (e: Error) => ((l.settled = true), reject(e)),
  };
  return l;
}

/** Fires when no byte came for `ms` while the reader had nothing buffered (a slow reader is not an idle child). */
function idleWatchdog(ms: number, onIdle: () => void) {
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  return {
    touch: () => void (last = Date.now()),
    watch(out: Transform) {
      timer = setInterval(
        () => {
          if (out.readableLength > 0 || out.writableLength > 0) last = Date.now();
          else if (Date.now() - last >= ms) onIdle();
        },
        Math.max(50, Math.min(1000, ms / 4)),
      );
      timer.unref();
    },
    stop: () => clearInterval(timer),
  };
}

/** An ExecFailure (run()) or ExecaError (runStreaming()) → StreamFailure, leaving any argv-bearing message behind. */
export function toFailure(err: unknown, timedOut = false): StreamFailure {
  const e = err as { exitCode?: number; stderr?: unknown; isCanceled?: boolean; code?: unknown; timedOut?: boolean };
  const spawnError = typeof e.code === 'string' && e.exitCode === undefined ? e.code : undefined;
  return {
    exitCode: e.exitCode,
    stderr: typeof e.stderr === 'string' ? e.stderr : '',
    timedOut: timedOut || e.timedOut === true,
    isCanceled: e.isCanceled === true && !timedOut,
    spawnError,
  };
}
