import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TransientError } from './errors.js';

/**
 * Counts bytes, feeds an md5 while they stream (no second read), reports
 * progress, and fails the stream with a TransientError when no byte arrives for
 * `idleMs` (a stalled connection), so a big file has no whole-file deadline.
 */
export class Meter extends Transform {
  bytes = 0;
  private readonly stall: StallTimer;

  constructor(
    private readonly o: { hash: Hash | null; idleMs: number; onBytes?: (n: number) => void; what: string },
  ) {
    super();
    this.stall = stallTimer(o.idleMs, o.what, (err) => this.destroy(err));
  }

  get hash(): Hash | null {
    return this.o.hash;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.stall.touch();
    this.o.hash?.update(chunk);
    this.o.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.stall.stop();
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.stall.stop();
    cb(err);
  }
}

export interface StallTimer {
  /** A byte came. */
  touch(): void;
  stop(): void;
}

/**
 * Fails a stream (through `fail`) when no byte came for `idleMs`: one interval
 * timer per stream checking when the last byte came, not a timer per chunk.
 */
export function stallTimer(idleMs: number, what: string, fail: (err: TransientError) => void): StallTimer {
  let last = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - last >= idleMs) fail(new TransientError(`${what}: no data for ${idleMs} ms`));
  }, Math.max(10, Math.floor(idleMs / 4)));
  timer.unref();
  return {
    touch: () => void (last = Date.now()),
    stop: () => clearInterval(timer),
  };
}

export const md5Hash = (): Hash => createHash('md5');
