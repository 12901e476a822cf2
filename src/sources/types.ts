import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import type { WireEngine } from '../wire/engine.js';

/** What a backend can do, as data: the core checks capabilities, never backend names. */
export interface SourceFeatures {
  /** stat/list return `md5` (content hash) for files. */
  readonly md5: boolean;
  /** stat/list return an `etag`. */
  readonly etag: boolean;
  /** open() honours `start` and `length` (resume, ranged parts). */
  readonly ranges: boolean;
  /** The granularity of `mtimeMs` (FTP MDTM: 1000; S3: 1000; local: 1). */
  readonly mtimeResolutionMs: number;
  /**
   * Big files are fetched as ranged parts without --part-size (at its 64M
   * default): a store that throttles each stream (S3). Absent or false: whole
   * files unless --part-size is given; on a LAN (HTTP, WebHDFS, FTP) parts
   * cost more than they give (issue 18: 1.48–1.93 × whole files on 127.0.0.1).
   */
  readonly partsByDefault?: boolean;
}

export interface RemoteEntry {
  /** Relative POSIX path under the listed dir, already passed through safeRelative(); for stat(), the path asked. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs?: number;
  readonly etag?: string;
  readonly md5?: string;
  /** True for a directory (stat only; list() yields files only). */
  readonly isDirectory?: boolean;
}

export interface IoOptions {
  readonly signal: AbortSignal;
}

export interface OpenOptions extends IoOptions {
  /** Byte offset to start at (only when features.ranges). */
  readonly start?: number;
  /**
   * Read only this many bytes from `start` (only when features.ranges): the
   * stream ends after exactly `length` bytes. A ranged part of a file.
   */
  readonly length?: number;
}

/**
 * What the server said, when it answered an open(), about the file it is
 * sending: fetch compares it with the listing the plan was made from, so a file
 * replaced between the listing and the read is caught (invariant 1).
 */
export interface OpenedMeta {
  /** The whole file's size (Content-Length, the total of a Content-Range, FTP SIZE). */
  readonly size?: number;
  readonly mtimeMs?: number;
  readonly etag?: string;
}

const OPENED = Symbol('model-monitor.opened');

/** Attaches `meta` to an open()ed stream. */
export function withMeta<T extends Readable>(stream: T, meta: OpenedMeta): T {
  return Object.assign(stream, { [OPENED]: meta });
}

/** The meta a source attached to an open()ed stream, if it did. */
export function openedMeta(stream: Readable): OpenedMeta | undefined {
  return (stream as Readable & { [OPENED]?: OpenedMeta })[OPENED];
}

/** Where download() puts a file's bytes: `length` bytes of the remote file from `position`, at the same offset on disk. */
export interface DownloadTarget {
  readonly file: string;
  readonly position: number;
  readonly length: number;
  /** A ranged part: ask for exactly `length` bytes; else read from `position` to the end of the file. */
  readonly part: boolean;
  /** Start from an empty file (the job truncates it when it opens it): a fresh whole file. */
  readonly fresh: boolean;
  /** Hash the file's bytes [0, position) from disk, then the body. */
  readonly md5: boolean;
  readonly idleMs: number;
  readonly minBytesPerSec: number;
}

export interface DownloadOptions extends IoOptions {
  readonly onBytes?: ((n: number) => void) | undefined;
  /** What the answer said about the file (as withMeta does for open()), before its bytes are written; throwing fails the download. */
  readonly onMeta?: ((meta: OpenedMeta) => void) | undefined;
}

export interface DownloadResult {
  /** Bytes written (all of `length` on success). */
  readonly bytes: number;
  /** Hex md5 of [0, position + bytes) when asked; else null. */
  readonly md5: string | null;
}

export interface Source {
  readonly kind: string;
  /** The remote root, credentials stripped: safe to log. */
  readonly displayUrl: string;
  readonly features: SourceFeatures;
  /** null = not found; any other failure throws a MonitorError. `path` is relative to the source root. */
  stat(path: string, o: IoOptions): Promise<RemoteEntry | null>;
  /** Recursive, streaming; yields files only, paths relative to `dir`. Throws NotFoundError when `dir` is absent. */
  list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry>;
  /**
   * A stream of the file's bytes from `start`. Errors mid-stream are MonitorErrors (TransientError for drops).
   * Where the answer says which file it is (size, mtime, ETag), the stream carries it: withMeta().
   */
  open(path: string, o: OpenOptions): Promise<Readable>;
  /**
   * A source whose files are local (file://) names the file on disk, so a
   * transfer that needs no md5 and no --bwlimit can be one kernel-side copy.
   */
  localPath?(path: string): string;
  /**
   * The data path of our own (src/wire/engine.ts): a file's bytes straight
   * from the socket to the file at explicit offsets, off the main thread. A
   * failure is a MonitorError with `bytesWritten` (wire/engine.ts): the bytes on
   * disk, a resume point. Absent (or the engine off: --data-path stock) = open().
   * Resolves null, having written nothing, when this read is not one for the
   * wire path (https, a proxy, a redirect, a chunked answer, no engine): the
   * caller reads it through open() instead.
   */
  download?(path: string, target: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null>;
  /**
   * The URL a GET of this file goes to through a proxy, with its version key
   * (content-key.ts) once list() or stat() has seen the file: what a preheat
   * of a cache or P2P tier must name. Absent where it cannot be known
   * (WebHDFS: the namenode picks the datanode per request).
   */
  requestUrl?(path: string): string;
  close(): Promise<void>;
}

export interface SourceDeps {
  readonly log: Logger;
  /** Per-request timeout (ms), from --timeout. */
  readonly timeoutMs: number;
  /** Parallel transfers wanted (--concurrency): size of a connection pool. */
  readonly concurrency: number;
  /** The monitor's wire engine (one per monitor); null or absent = the stock data path only (--data-path stock). */
  readonly wire?: WireEngine | null;
}

/**
 * How Paddle Serving's `--type NAME --remote_path P` (and the backend's own
 * Paddle flags, `--ftp_host`, `--general_host`) name a remote of this backend.
 */
export interface PaddleMapping<V> {
  /** The `--type` names (`ftp`; `general`, `http`; `hdfs`, `afs`). */
  readonly types: readonly string[];
  /**
   * The remote root as a URL (`path` is --remote_path, absolute, %-encoded), and the
   * flag an error about it names. `v` holds this backend's options, read and typed.
   */
  url(type: string, path: string, v: V): { readonly url: string; readonly flag: string };
}

/**
 * One backend, declared in its own file (`export const ftp = {…} satisfies
 * SourceFactory<FtpOptions, typeof options>`) and registered with one line in
 * sources/index.ts. Its options arrive read and typed from its own table.
 */
export interface SourceFactory<O extends object, T extends readonly OptionSpec[] = readonly OptionSpec[]> {
  readonly kind: string;
  /** URL schemes this factory takes for --remote (`ftp`, `ftps`). */
  readonly schemes: readonly string[];
  /** The factory's own flags. */
  readonly options: T;
  /** Paddle's `--type` names for this backend and how its flags make the URL; absent = --remote only. */
  readonly paddle?: PaddleMapping<Values<T>>;
  /**
   * Validates the remote and the options, no I/O; throws ConfigError. `remote` is the
   * --remote URL, or one built from Paddle flags; `text` is it as given (a comma list of
   * hosts, which a WHATWG URL cannot hold, arrives there only).
   */
  parse(remote: URL, v: Values<T>, text: string): O;
  /** No I/O until the first call. `deps.log` is already the source's child logger. */
  create(opts: O, deps: SourceDeps): Source;
  /**
   * HTTP-based sources: the proxy this remote's requests go through (--proxy, or
   * the environment's for its URL), or null. A proxied remote pulls whole files
   * unless --part-size is given: a shared cache stores whole objects, not ranges.
   */
  proxy?(opts: O): string | null;
}
