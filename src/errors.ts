/**
 * Every error model-monitor throws. Classification is data (`code`, `retryable`),
 * never string matching: the retry loop and the CLI's exit codes read only these.
 */
export type ErrorCode =
  | 'E_CONFIG'
  | 'E_NOT_FOUND'
  | 'E_AUTH'
  | 'E_TRANSIENT'
  | 'E_INTEGRITY'
  | 'E_UNSAFE_PATH'
  | 'E_NO_SPACE'
  | 'E_LOCKED'
  | 'E_EMPTY_MODEL'
  | 'E_VALIDATE'
  | 'E_RELOAD'
  | 'E_NO_BACKUP'
  | 'E_REMOTE'
  | 'E_ABORTED'
  | 'E_HADOOP_CLI'
  | 'E_CHANGED';

export abstract class MonitorError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from flags, env or config file. Names the flag. Exit code 2. */
export class ConfigError extends MonitorError {
  readonly code = 'E_CONFIG';
  readonly retryable = false;
  constructor(
    readonly flag: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(flag ? `--${flag}: ${message}` : message, options);
  }
}

/** The remote object does not exist (yet). Retried by `watch` on the next cycle. */
export class NotFoundError extends MonitorError {
  readonly code = 'E_NOT_FOUND';
  readonly retryable = false;
}

/** Credentials refused, or access denied. Never retried: it will not heal by itself. */
export class AuthError extends MonitorError {
  readonly code = 'E_AUTH';
  readonly retryable = false;
}

/** A dropped connection, a timeout, a 5xx, a standby namenode: try again with backoff. */
export class TransientError extends MonitorError {
  readonly code = 'E_TRANSIENT';
  readonly retryable = true;
}

/** Any other remote refusal that retrying will not change (a 4xx, FTP 5xx, bad listing). */
export class RemoteError extends MonitorError {
  readonly code = 'E_REMOTE';
  readonly retryable = false;
}

/** Bytes arrived, but not the bytes promised (size, md5, ETag, manifest). */
export class IntegrityError extends MonitorError {
  readonly code = 'E_INTEGRITY';
  readonly retryable = false;
}

/** A remote name or tar entry that would leave the staging directory. */
export class UnsafePathError extends MonitorError {
  readonly code = 'E_UNSAFE_PATH';
  readonly retryable = false;
}

/** Not enough free space on the staging filesystem, or ENOSPC while writing. */
export class NoSpaceError extends MonitorError {
  readonly code = 'E_NO_SPACE';
  readonly retryable = false;
}

/** Another monitor holds the lock on this served path. Exit code 2. */
export class LockedError extends MonitorError {
  readonly code = 'E_LOCKED';
  readonly retryable = false;
  constructor(
    readonly holderPid: number,
    message: string,
  ) {
    super(message);
  }
}

/** A remote model with no files, or fewer than its manifest names: never a model. */
export class EmptyModelError extends MonitorError {
  readonly code = 'E_EMPTY_MODEL';
  readonly retryable = false;
}

/** The --validate command rejected the staged model. */
export class ValidateError extends MonitorError {
  readonly code = 'E_VALIDATE';
  readonly retryable = false;
}

/** A reload trigger failed (exec exit code, HTTP status, no such pid). */
export class ReloadError extends MonitorError {
  readonly code = 'E_RELOAD';
  readonly retryable = false;
  /** The version served once this failure ended the cycle (the new one, or the one rolled back to), when a swap happened. */
  readonly served: string | undefined;
  constructor(message: string, options?: { cause?: unknown; served?: string }) {
    super(message, options);
    this.served = options?.served;
  }
}

/** The one line a failed sync is logged with: it says what is served, which after a failed reload is the new model. */
export function failureLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof ReloadError && err.served !== undefined) return `sync failed: ${msg}; now serving ${err.served}`;
  return `sync failed; the served model is unchanged: ${msg}`;
}

/** `rollback` with nothing to roll back to. */
export class NoBackupError extends MonitorError {
  readonly code = 'E_NO_BACKUP';
  readonly retryable = false;
}

/** The `hadoop fs` command failed in a way that is not "no such file". */
export class HadoopCliError extends MonitorError {
  readonly code = 'E_HADOOP_CLI';
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.retryable = options?.retryable ?? true;
  }
}

/**
 * The remote model changed while it was being pulled (a file's ETag, mtime or
 * size no longer matches the listing, or the donefile moved on): what was
 * fetched may mix two versions. Not retried per file (that would fetch the new
 * bytes into the old plan); the cycle discards staging and plans again.
 */
export class ModelChangedError extends MonitorError {
  readonly code = 'E_CHANGED';
  readonly retryable = false;
}

/** The cycle was cancelled (SIGTERM, SIGINT, a newer donefile). */
export class AbortedError extends MonitorError {
  readonly code = 'E_ABORTED';
  readonly retryable = false;
}

/** True only for MonitorErrors that say so: programming errors are never retried. */
export function isRetryable(err: unknown): boolean {
  return err instanceof MonitorError && err.retryable;
}

const TRANSIENT_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Node socket error codes that mean "the network hiccuped". */
export function isTransientNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_ERRNO.has(code)) return true;
    if (e instanceof Error && e.name === 'TimeoutError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The error the signal was aborted with, as an AbortedError unless it already is a MonitorError. */
export function abortReason(signal: AbortSignal): MonitorError {
  const r: unknown = signal.reason;
  if (r instanceof MonitorError) return r;
  if (r instanceof Error && r.name === 'TimeoutError') {
    return new TransientError(r.message && r.message !== 'The operation was aborted due to timeout' ? r.message : 'operation timed out', { cause: r });
  }
  return new AbortedError('cancelled', { cause: r });
}

/** Maps ENOSPC/EDQUOT to NoSpaceError; leaves other errors alone. */
export function mapLocalWriteError(err: unknown, what: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new NoSpaceError(`no space left on device while writing ${what}`, { cause: err });
  }
  return err;
}
