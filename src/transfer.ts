/**
 * One byte range of a remote file streamed into its file on disk, with
 * retries: a whole file from its resume point, or one ranged part. The
 * Transfer holds what every range of a fetch shares (the source, the
 * bandwidth bucket, the deadlines, the hooks); a Range says what this one is.
 */
import type { Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { throttle, type TokenBucket } from './bwlimit.js';
import { abortReason, mapLocalWriteError, MonitorError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { hashPrefix } from './ordered-md5.js';
import { retryFrom } from './parts.js';
import type { PlannedFile } from './plan.js';
import { checkRead } from './same-version.js';
import { FileSink } from './sink.js';
import type { Source } from './sources/types.js';
import { remoteOp } from './retry.js';

/** What every transfer of one fetch shares. */
export interface Transfer {
  readonly source: Source;
  /** --bwlimit over all streams; null = unlimited. */
  readonly bucket: TokenBucket | null;
  /** A stream with no byte for this long is dropped (and resumed). */
  readonly timeoutMs: number;
  /** …and one slower than this (bytes/s, averaged over a window of timeoutMs). */
  readonly minBytesPerSec: number;
  readonly retries: number;
  readonly log: Logger;
  readonly onBytes?: ((n: number) => void) | undefined;
  /** A read of this file named its version (ETag or mtime) and it was the listed one. */
  readonly onConfirmed?: ((path: string) => void) | undefined;
}

/** A byte range of a remote file and where it goes on disk. */
export interface Range {
  /** The file as listed: every read of it must answer for this version. */
  readonly listed: PlannedFile;
  /** The local file the bytes go to, at their own offsets. */
  readonly file: string;
  readonly start: number;
  readonly length: number;
  /** A part asks the source for `length` bytes; a whole file reads to the end. */
  readonly part: boolean;
  /** Bytes of the range already on disk (a resume point; 0 = none). */
  readonly done: number;
  /** The md5 fed with those bytes, when the file is hashed while it streams; null = not hashed. */
  readonly hash: Hash | null;
}

export function asFetchError(err: unknown, what: string): MonitorError {
  if (err instanceof MonitorError) return err;
  return new TransientError(`${what}: transfer failed: ${(err as Error).message}`, { cause: err });
}

/**
 * Streams one range into its file with retries; returns the range's md5 state
 * (null when not hashed). A retry goes on from the bytes really on disk
 * (FileSink counts only written bytes), with a range read where the source
 * has them, and rebuilds the md5 from the file (the dropped stream may have
 * fed bytes it never wrote).
 */
export async function transferRange(t: Transfer, r: Range, signal: AbortSignal): Promise<Hash | null> {
  const remote = r.listed.remote;
  let hash = r.hash;
  let written = r.done;
  let fresh = r.done === 0 && !r.part;
  await remoteOp(
    async (_signal, attempt) => {
      if (attempt > 1) {
        const from = retryFrom(written, t.source.features.ranges);
        if (from !== written) [written, fresh] = [from, true];
        if (hash) hash = await hashPrefix(r.file, written);
      }
      const at = r.start + written;
      const want = r.length - written;
      let sink: FileSink | null = null;
      try {
        const input = await t.source.open(remote, { signal, ...(at > 0 ? { start: at } : {}), ...(r.part ? { length: want } : {}) });
        checkRead(t.source, r.listed, input, t.onConfirmed);
        // The stall timer starts with the stream, not before open() (which has its own timeout).
        sink = new FileSink({
          file: r.file,
          create: fresh,
          position: at,
          limit: want,
          hash,
          idleMs: t.timeoutMs,
          minBytesPerSec: t.minBytesPerSec,
          onBytes: t.onBytes,
          what: remote,
        });
        fresh = false;
        // No throttle stage at all without --bwlimit: every stage costs per chunk.
        if (t.bucket) await pipeline(input, throttle(t.bucket, signal), sink, { signal });
        else await pipeline(input, sink, { signal });
      } catch (err) {
        // pipeline() rejects as soon as the input fails, while the sink may still have a write in flight:
        // its count is final only once it has closed (else a retry re-fetches bytes the old write still lands).
        if (sink && !sink.closed) await new Promise((resolve) => sink!.once('close', resolve));
        written += sink?.bytes ?? 0;
        if (signal.aborted) throw abortReason(signal);
        throw asFetchError(mapLocalWriteError(err, r.file), remote);
      }
      written += sink.bytes;
      if (written < r.length) throw new TransientError(`${remote}: connection ended after ${written} of ${r.length} bytes`);
    },
    { signal, log: t.log, retries: t.retries, timeoutMs: null, what: `download ${remote}${r.part ? ` bytes ${r.start}-${r.start + r.length - 1}` : ''}` },
  );
  return hash;
}
