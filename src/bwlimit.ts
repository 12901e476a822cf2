import { Transform, type TransformCallback } from 'node:stream';

/**
 * A token bucket shared by all streams of a sync (--bwlimit): the sum of their
 * rates stays under `bytesPerSec`, with at most one second of burst.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly bytesPerSec: number) {
    this.tokens = bytesPerSec;
  }

  /** Milliseconds to wait before `n` bytes may pass (and takes them). */
  take(n: number): number {
    const now = Date.now();
    this.tokens = Math.min(this.bytesPerSec, this.tokens + ((now - this.last) / 1000) * this.bytesPerSec);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.bytesPerSec) * 1000);
  }
}

/** A pass-through stream that waits for tokens before passing each chunk on. */
export function throttle(bucket: TokenBucket | null, signal: AbortSignal): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const wait = bucket ? bucket.take(chunk.length) : 0;
      if (wait === 0) return cb(null, chunk);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        cb(null, chunk);
      }, wait);
      const onAbort = () => {
        clearTimeout(t);
        cb(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    },
  });
}
