// The streaming twin of src/exec.ts (execa with `buffer: false` for stdout): the second execa call site.
// eslint-disable-next-line no-restricted-imports
import { execa } from 'execa';
import { Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
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
  /** Extra environment (merged over process.env). */
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
export function runStreaming(file: string, args: readonly string[], o: StreamRunOptions): StreamingRun {
  o.log.debug({ event: 'exec', file, argc: args.length }, 'run (streaming)');
  const idle = new AbortController();
  const sub = execa(file, args, {
    cancelSignal: AbortSignal.any([o.signal, idle.signal]),
    forceKillAfterDelay: 2000,
    env: o.env ? { ...o.env } : {},
    extendEnv: true,
    stdin: 'ignore',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 1024 * 1024 },
    encoding: 'utf8',
    reject: true,
  });
  let lastByte = Date.now();
  let gotByte = false;
  let resolveStarted!: () => void;
  let rejectStarted!: (e: Error) => void;
  const started = new Promise<void>((res, rej) => ((resolveStarted = res), (rejectStarted = rej)));
  started.catch(() => {}); // the caller may only read stdout
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      lastByte = Date.now();
      gotByte = true;
      resolveStarted();
      cb(null, chunk);
    },
  });
  const timer = setInterval(() => {
    const readerBehind = out.readableLength > 0 || out.writableLength > 0;
    if (readerBehind) lastByte = Date.now();
    else if (Date.now() - lastByte >= o.idleTimeoutMs) idle.abort(new Error('idle'));
  }, Math.max(50, Math.min(1000, o.idleTimeoutMs / 4)));
  timer.unref();
  sub.stdout.pipe(out, { end: false });
  out.on('close', () => {
    if (sub.exitCode === null) sub.kill();
  });
  sub.then(
    async () => {
      await finished(sub.stdout).catch(() => {});
      clearInterval(timer);
      resolveStarted();
      out.end();
    },
    (err: unknown) => {
      clearInterval(timer);
      const e = o.mapError(toFailure(err, idle.signal.aborted && !o.signal.aborted));
      rejectStarted(e);
      // before the first byte the rejection of `started` reports it; nobody may be listening yet
      if (!gotByte) out.on('error', () => {});
      out.destroy(e);
    },
  );
  return { stdout: out, started };
}

function toFailure(err: unknown, timedOut: boolean): StreamFailure {
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
