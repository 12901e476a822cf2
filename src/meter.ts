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

  constructor(private readonly o: { hash: Hash | null; idleMs: number; minBytesPerSec?: number; onBytes?: ((n: number) => void) | undefined; what: string }) {
    super();
    this.stall = stallTimer(o.idleMs, o.what, (err) => this.destroy(err), o.minBytesPerSec);
  }

  get hash(): Hash | null {
    return this.o.hash;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.stall.touch(chunk.length);
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
  /** `n` bytes came. */
  touch(n: number): void;
  stop(): void;
}

/**
 * Fails a stream (through `fail`) that stalls or trickles: no byte for
 * `idleMs`, or fewer than `minBytesPerSec` on average over any window of
 * `idleMs` (a server sending one byte every two seconds never stalls, and would
 * hold a pull forever). One interval timer per stream, not one per chunk.
 */
export function stallTimer(idleMs: number, what: string, fail: (err: TransientError) => void, minBytesPerSec = 0): StallTimer {
  let last = Date.now();
  let windowStart = last;
  let windowBytes = 0;
  const floor = (minBytesPerSec * idleMs) / 1000;
  const timer = setInterval(
    () => {
      const now = Date.now();
      if (now - last >= idleMs) return fail(new TransientError(`${what}: no data for ${idleMs} ms`));
      if (now - windowStart < idleMs) return;
      if (windowBytes < floor) {
        const rate = Math.round((windowBytes * 1000) / (now - windowStart));
        return fail(
          new TransientError(`${what}: ${rate} bytes/s over ${Math.round((now - windowStart) / 1000)} s, below --min-rate ${minBytesPerSec} bytes/s`),
        );
      }
      windowStart = now;
      windowBytes = 0;
    },
    Math.max(10, Math.floor(idleMs / 4)),
  );
  timer.unref();
  return {
    touch: (n) => {
      last = Date.now();
      windowBytes += n;
    },
    stop: () => clearInterval(timer),
  };
}

export const md5Hash = (): Hash => createHash('md5');
