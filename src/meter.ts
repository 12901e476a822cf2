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
  private timer: NodeJS.Timeout | null = null;
  private last = Date.now();

  constructor(
    private readonly o: { hash: Hash | null; idleMs: number; onBytes?: (n: number) => void; what: string },
  ) {
    super();
    this.arm();
  }

  get hash(): Hash | null {
    return this.o.hash;
  }

  /** One timer per stream, not one per chunk: it checks when the last byte came. */
  private arm(): void {
    const check = Math.max(10, Math.floor(this.o.idleMs / 4));
    this.timer = setInterval(() => {
      if (Date.now() - this.last >= this.o.idleMs) this.destroy(new TransientError(`${this.o.what}: no data for ${this.o.idleMs} ms`));
    }, check);
    this.timer.unref();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.last = Date.now();
    this.o.hash?.update(chunk);
    this.o.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.timer) clearInterval(this.timer);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    if (this.timer) clearInterval(this.timer);
    cb(err);
  }
}

export const md5Hash = (): Hash => createHash('md5');
