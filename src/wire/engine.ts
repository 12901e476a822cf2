/**
 * The data path model-monitor owns for the byte-heavy sources (issue 18): the
 * contract between the engine (worker threads that own sockets and write at
 * explicit file offsets) and the sources that use it (HTTP, WebHDFS datanode
 * reads, S3 GETs, FTP data connections). Types only: the engine lives in
 * src/wire/, each source's use of it in its own file.
 *
 * A job is one TCP connection whose bytes land in one file: an HTTP request
 * whose response body is written from `position` on, or a raw stream (an FTP
 * data connection) written until EOF. The socket is made inside the worker
 * (a socket cannot move between threads); the control plane (HTTP redirects,
 * FTP commands, error mapping, one-version checks) stays on the main thread.
 */

export interface WireJob {
  readonly host: string;
  readonly port: number;
  /**
   * 'http': `request` is sent, the response head is parsed and reported
   * (onHead), and a 200/206 body is written; any other status is not written
   * (its first 64 KiB come back as `errorBody`). A body is the file's only when
   * it is what was asked: a 200 with `position` 0, or a 206 whose Content-Range
   * starts at `position` (a server that ignores a Range never writes over the
   * resume point). 'raw': nothing is parsed, every
   * byte until EOF is body (an FTP data connection).
   */
  readonly protocol: 'http' | 'raw';
  /** Bytes sent once connected (an HTTP/1.1 request with `Connection: close` or keep-alive). */
  readonly request?: string;
  /** The file the body goes to; opened 'r+' when it exists, created otherwise; never through a symlink. */
  readonly file: string;
  /** File offset of the body's first byte. */
  readonly position: number;
  /** Empty the file when the job opens it (a fresh whole file: a longer stale one must not keep its tail). */
  readonly truncate?: boolean;
  /** Body bytes expected: more is a RemoteError (a size lie), fewer a TransientError (a drop). */
  readonly length: number;
  /** Hash the file's bytes [0, position) from disk, then the body: `md5` in the result. */
  readonly md5: boolean;
  /** No body byte for this long: the job fails with a TransientError (and is resumed by the caller). */
  readonly idleMs: number;
  /** Fewer bytes/s than this averaged over a window of idleMs: the same (0 = only a full stall). */
  readonly minBytesPerSec: number;
  /** Connecting (TCP) and, for 'http', the whole response head must take less than this. */
  readonly headMs: number;
  /**
   * 'http': the status whose body is the file's bytes from `position` (a WebHDFS
   * datanode answers an offset read with a 200). Absent: a 200 at `position` 0,
   * or a 206 whose Content-Range starts at `position`.
   */
  readonly expect?: number;
  /**
   * 'http' only: the request is a HEAD. The answer's head is the result (no
   * body is read whatever its Content-Length says, no file is opened: `file`,
   * `position` and `length` are unused), and the connection is kept alive for
   * the next job: a listing's HEADs warm the sockets its GETs then use.
   */
  readonly headOnly?: boolean;
  /**
   * 'raw' only: once connected the socket is paused and the file left
   * unopened until the main thread opens the gate (WireRunOptions.gate): an
   * FTP RETR whose 150 reply is the one-version check writes no byte before
   * the check has passed, and a refused RETR (550) leaves no file. Set by the
   * engine from `gate`.
   */
  readonly gated?: boolean;
  /** Names the transfer in error messages (a remote path); default `host:port`. */
  readonly what?: string;
}

export interface WireHead {
  readonly status: number;
  /** Lower-case names; a repeated header's values joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface WireResult {
  /** Body bytes written to the file (all of `length` on success). */
  readonly bytes: number;
  /** Hex md5 of the file [0, position + bytes) when `md5` was asked; else null. */
  readonly md5: string | null;
  /** 'http' only. */
  readonly head?: WireHead;
  /** 'http' with a status other than 200/206: the start of the body, not written. */
  readonly errorBody?: string;
}

export interface WireRunOptions {
  readonly signal: AbortSignal;
  /** Body bytes as they are written (progress, metrics), batched: not per socket read. */
  readonly onBytes?: ((n: number) => void) | undefined;
  /**
   * 'http': called with the response head before the body is written. Throwing
   * (a one-version mismatch, say) fails the job with that error; bytes the
   * worker wrote meanwhile lie in staging and are discarded with it.
   */
  readonly onHead?: ((head: WireHead) => void) | undefined;
  /** 'raw': called once the socket is connected (an FTP client sends RETR now). */
  readonly onConnected?: (() => void) | undefined;
  /**
   * 'raw': the job's bytes wait (socket paused, file unopened) until this
   * resolves; its rejection fails the job with that error (nothing written).
   */
  readonly gate?: Promise<void> | undefined;
}

/**
 * A failed job: `bytesWritten` body bytes are on disk from `position` on, a
 * safe resume point. The error itself is a MonitorError (TransientError for a
 * drop or stall, RemoteError for a size lie, the local-write mapping for
 * ENOSPC) carried as `cause`-free plain data across the thread boundary and
 * rebuilt on the main thread.
 */
export interface WireFailure {
  readonly bytesWritten: number;
}

export interface WireEngine {
  run(job: WireJob, o: WireRunOptions): Promise<WireResult>;
  /**
   * A pull is coming: start the workers now (each takes tens of ms to boot),
   * so they are up by its first download. True once one is running: a job
   * given now waits for no start-up (a listing's HEADs take the stock path
   * until then).
   */
  warm(): boolean;
  /** Ends the workers; jobs still running fail with an AbortedError. */
  close(): Promise<void>;
}

/** The bytes of a failed job that are on disk (0 when the error says nothing). */
export function bytesWritten(err: unknown): number {
  const n = (err as Partial<WireFailure> | null)?.bytesWritten;
  return typeof n === 'number' && n >= 0 ? n : 0;
}
