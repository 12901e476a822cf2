/**
 * One byte range of a remote file streamed into its file on disk, with
 * retries: a whole file from its resume point, or one ranged part. The
 * Transfer holds what every range of a fetch shares (the source, the
 * bandwidth bucket, the deadlines, the hooks); a Range says what this one is.
 */
import { pipeline } from 'node:stream/promises';
import { throttle, type TokenBucket } from './bwlimit.js';
import { abortReason, mapLocalWriteError, MonitorError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { hashPrefix } from './ordered-md5.js';
import { retryFrom } from './parts.js';
import type { PlannedFile } from './plan.js';
import { checkMeta, checkRead } from './same-version.js';
import { FileSink } from './sink.js';
import type { Source } from './sources/types.js';
import { remoteOp } from './retry.js';
import { bytesWritten } from './wire/engine.js';

/** What every transfer of one fetch shares. */
export interface Transfer {
  readonly source: Source;
  /** --bwlimit over all streams; null = unlimited. */
  readonly bucket: TokenBucket | null;
  /**
   * Read through source.download() (the wire engine) where the source has it:
   * --data-path wire and no --bwlimit (the workers do not pace their sockets:
   * a limited pull takes the stock path, where the bucket is).
   */
  readonly wire: boolean;
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
  /** The md5 of the file [0, start + length) is wanted (a whole file: parts are hashed in order by OrderedMd5). */
  readonly md5: boolean;
}

export function asFetchError(err: unknown, what: string): MonitorError {
  if (err instanceof MonitorError) return err;
  return new TransientError(`${what}: transfer failed: ${(err as Error).message}`, { cause: err });
}

/** Where one attempt starts, and what it left: the bytes it put on disk and, when hashed, the md5 of the file so far. */
interface Attempt {
  readonly at: number;
  readonly want: number;
  readonly fresh: boolean;
}

/**
 * Brings one range into its file with retries; returns the hex md5 of the file
 * when `r.md5` (else null). A retry goes on from the bytes really on disk
 * (FileSink, and the wire engine's `bytesWritten`, count only written bytes),
 * with a range read where the source has them, and rebuilds the md5 from the
 * file (the dropped stream may have fed bytes it never wrote).
 */
export async function transferRange(t: Transfer, r: Range, signal: AbortSignal): Promise<string | null> {
  const remote = r.listed.remote;
  let md5: string | null = null;
  let written = r.done;
  let fresh = r.done === 0 && !r.part;
  // Until the source says a read of this file is not for the wire path (it resolved null): then open() for good.
  let wire = t.wire && t.source.download !== undefined;
  await remoteOp(
    async (_signal, attempt) => {
      if (attempt > 1) {
        const from = retryFrom(written, t.source.features.ranges);
        if (from !== written) [written, fresh] = [from, true];
      }
      const a: Attempt = { at: r.start + written, want: r.length - written, fresh };
      fresh = false;
      let got: { bytes: number; md5: string | null } | null = null;
      const stock = { bytes: 0 };
      try {
        if (wire) got = await viaWire(t, r, a, signal);
        wire &&= got !== null;
        got ??= await viaStream(t, r, a, stock, signal);
      } catch (err) {
        const kept = wire ? bytesWritten(err) : stock.bytes;
        // A wire job that failed before it opened the file did not empty it: the next attempt must.
        if (wire && a.fresh && kept === 0) fresh = true;
        written += kept;
        if (signal.aborted) throw abortReason(signal);
        throw asFetchError(mapLocalWriteError(err, r.file), remote);
      }
      written += got.bytes;
      md5 = got.md5;
      if (written < r.length) throw new TransientError(`${remote}: connection ended after ${written} of ${r.length} bytes`);
    },
    { signal, log: t.log, retries: t.retries, timeoutMs: null, what: `download ${remote}${r.part ? ` bytes ${r.start}-${r.start + r.length - 1}` : ''}` },
  );
  return md5;
}

/** One attempt through the source's own data path (src/wire/): null when the source says this read is not for it. */
async function viaWire(t: Transfer, r: Range, a: Attempt, signal: AbortSignal): Promise<{ bytes: number; md5: string | null } | null> {
  // A fresh whole file starts empty, as FileSink's 'w' makes it: the worker opens it with O_TRUNC (no open/close here, per file).
  return t.source.download!(
    r.listed.remote,
    { file: r.file, position: a.at, length: a.want, part: r.part, fresh: a.fresh, md5: r.md5, idleMs: t.timeoutMs, minBytesPerSec: t.minBytesPerSec },
    { signal, onBytes: t.onBytes, onMeta: (seen) => checkMeta(t.source, r.listed, seen, t.onConfirmed) },
  );
}

/** One attempt through open() and a pipeline into a FileSink (the stock data path). */
async function viaStream(t: Transfer, r: Range, a: Attempt, onDisk: { bytes: number }, signal: AbortSignal): Promise<{ bytes: number; md5: string | null }> {
  const remote = r.listed.remote;
  const hash = r.md5 ? await hashPrefix(r.file, a.at) : null;
  let sink: FileSink | null = null;
  try {
    const input = await t.source.open(remote, { signal, ...(a.at > 0 ? { start: a.at } : {}), ...(r.part ? { length: a.want } : {}) });
    checkRead(t.source, r.listed, input, t.onConfirmed);
    // The stall timer starts with the stream, not before open() (which has its own timeout).
    sink = new FileSink({
      file: r.file,
      create: a.fresh,
      position: a.at,
      limit: a.want,
      hash,
      idleMs: t.timeoutMs,
      minBytesPerSec: t.minBytesPerSec,
      onBytes: t.onBytes,
      what: remote,
    });
    // No throttle stage at all without --bwlimit: every stage costs per chunk.
    if (t.bucket) await pipeline(input, throttle(t.bucket, signal), sink, { signal });
    else await pipeline(input, sink, { signal });
  } catch (err) {
    // pipeline() rejects as soon as the input fails, while the sink may still have a write in flight:
    // its count is final only once it has closed (else a retry re-fetches bytes the old write still lands).
    if (sink && !sink.closed) await new Promise((resolve) => sink!.once('close', resolve));
    onDisk.bytes = sink?.bytes ?? 0;
    throw err;
  }
  return { bytes: sink.bytes, md5: hash ? hash.digest('hex') : null };
}
