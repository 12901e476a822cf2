/**
 * HTTP answers as the shared error set, and response bodies as Readables whose
 * errors are MonitorErrors (shared by the HTTP and S3 sources).
 */
import { Transform, type Readable } from 'node:stream';
import { abortReason, AuthError, isTransientNetworkError, MonitorError, NotFoundError, RemoteError, TransientError } from '../errors.js';

interface GuardOptions {
  readonly signal: AbortSignal;
  /** Content-Length: fewer bytes than this at the end is a drop, not a file. */
  readonly expected?: number | undefined;
  readonly mapError: (err: unknown) => MonitorError;
  readonly what: string;
}

/**
 * A response body as a Readable whose errors are MonitorErrors: a mid-body drop
 * or a short read is a TransientError, an abort is the signal's reason.
 * Streamed with backpressure, never buffered. A piped
 * Transform passes each chunk on as it came: iterating the body with `for
 * await` would concatenate whatever had queued (one more copy of the bytes).
 */
export function guardedBody(body: Readable, o: GuardOptions): Readable {
  let got = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      got += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      if (o.expected !== undefined && got !== o.expected) cb(new TransientError(`${o.what}: connection closed after ${got} of ${o.expected} bytes`));
      else cb();
    },
  });
  const onAbort = () => body.destroy(abortReason(o.signal));
  body.once('error', (err) => out.destroy(o.mapError(err)));
  out.once('close', () => {
    o.signal.removeEventListener('abort', onAbort);
    body.destroy();
  });
  o.signal.addEventListener('abort', onAbort, { once: true });
  if (o.signal.aborted) onAbort();
  body.pipe(out);
  return out;
}

/** An HTTP status that is not success → the shared error set. */
export function statusError(status: number, what: string): MonitorError {
  if (status === 401 || status === 403) return new AuthError(`${what}: HTTP ${status} (credentials refused)`);
  if (status === 404 || status === 410) return new NotFoundError(`${what}: HTTP ${status}`);
  if (status === 408 || status === 429 || status >= 500) return new TransientError(`${what}: HTTP ${status}`);
  return new RemoteError(`${what}: HTTP ${status}`);
}

export function mapHttpError(err: unknown, what: string, signal: AbortSignal): MonitorError {
  if (err instanceof MonitorError) return err;
  if (signal.aborted) return abortReason(signal);
  const code = (err as { code?: unknown } | null)?.code;
  if (isTransientNetworkError(err) || code === 'ENOTFOUND') {
    return new TransientError(`${what}: ${typeof code === 'string' ? code : 'network error'}`, { cause: err });
  }
  return new RemoteError(`${what}: request failed`, { cause: err });
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** A header's (first) value. */
export const header = (a: { readonly headers: Headers }, name: string): string | undefined => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Which file an answer is about: its Last-Modified and its ETag (quotes off, W/ kept). */
export function versionOf(a: { readonly headers: Headers }): { mtimeMs?: number; etag?: string } {
  const lm = Date.parse(header(a, 'last-modified') ?? '');
  const etag = header(a, 'etag')?.replace(/^(W\/)?"(.*)"$/, '$1$2') || undefined;
  return { ...(Number.isNaN(lm) ? {} : { mtimeMs: lm }), ...(etag ? { etag } : {}) };
}
