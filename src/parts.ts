/**
 * fetch's decisions, as pure functions: how a file is cut into ranged parts,
 * whether it is, and where an interrupted transfer goes on from.
 */

/** A byte range of a file: `length` bytes from `start`. */
export interface Part {
  readonly start: number;
  readonly length: number;
}

/** `size` bytes in parts of `partSize`: every byte once, in order, the last part ending at the end of the file. */
export function partLayout(size: number, partSize: number): Part[] {
  if (!(partSize > 0)) throw new Error(`part size must be positive, got ${partSize}`);
  const parts: Part[] = [];
  for (let start = 0; start < size; start += partSize) parts.push({ start, length: Math.min(partSize, size - start) });
  return parts;
}

export interface PartChoice {
  /** --part-size (0 = never). */
  readonly partSize: number;
  /** --part-size was given (else it is the 64M default). */
  readonly given: boolean;
  /** The source's features.partsByDefault: parts pay there without being asked for (a per-stream-throttled store). */
  readonly partsByDefault: boolean;
  readonly concurrency: number;
  /** The source can read a range (features.ranges). */
  readonly ranges: boolean;
  /** The file is on local disk and needs no md5: one copyFile beats any number of streams. */
  readonly local: boolean;
  readonly size: number;
  /** Reused from the served model (--incremental): nothing is fetched. */
  readonly reused: boolean;
}

/**
 * The part size `f` is fetched in, or 0 when it is fetched as one stream.
 * Parts only where they pay: an explicit --part-size everywhere, its default
 * only on a source that declares partsByDefault (S3 throttles each stream; on
 * a LAN one stream per file is faster: issue 18).
 */
export function partSizeFor(c: PartChoice): number {
  if (c.local || c.reused || !c.ranges || c.partSize <= 0 || c.concurrency <= 1) return 0;
  if (!c.given && !c.partsByDefault) return 0;
  return c.size > c.partSize ? c.partSize : 0;
}

export interface ResumeChoice {
  readonly ranges: boolean;
  /** Bytes of the file on disk in staging (0 when there is none). */
  readonly onDisk: number;
  readonly size: number;
  /** The journal says this partial file was begun for this very version of it (staging.ts). */
  readonly begunForThisVersion: boolean;
}

/**
 * Where a file left partial by an interrupted sync goes on from: its bytes on
 * disk, when they were begun for this version, fit in it, and the source can
 * start mid-file; else from the start.
 */
export function resumeFrom(c: ResumeChoice): number {
  return c.ranges && c.begunForThisVersion && c.onDisk <= c.size ? c.onDisk : 0;
}

/**
 * Where the next attempt of a range goes on after a dropped one: from the bytes
 * really written (FileSink counts only bytes on disk), or from the range's start
 * on a source that cannot read from an offset.
 */
export function retryFrom(written: number, ranges: boolean): number {
  return ranges ? written : 0;
}
