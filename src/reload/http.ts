/**
 * `--http-post URL`: POST with an empty body after each swap; a 2xx answer is
 * success. Made for Triton's model-control API
 * (`POST /v2/repository/models/NAME/load`, which takes an empty body and
 * reloads NAME from the repository) and for anything else that reloads on a
 * POST. Its own deadline (`--exec-timeout`); a non-2xx answer becomes a
 * ReloadError naming the status and the first 200 bytes of the body; a
 * network failure a ReloadError with the fetch error as `cause`.
 */
import { deadline } from '../deadline.js';
import { ConfigError, ReloadError } from '../errors.js';
import { redactUrl } from '../options.js';
import type { ReloadTrigger } from './types.js';

export interface HttpTriggerOptions {
  readonly url: string;
  readonly timeoutMs: number;
}

const BODY_PREVIEW = 200;

/** Up to `max` bytes of a response body, then the rest is cancelled (never buffered whole). */
export async function bodyPreview(res: Response, max = BODY_PREVIEW): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      n += value.byteLength;
    }
  } catch {
    /* a body cut short still says something */
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8').trim();
}

/**
 * fetch() refuses a URL with credentials in it; `http://user:pass@host/…` is
 * sent as the same URL without them plus an `Authorization: Basic` header.
 */
export function requestFor(raw: string): { url: string; headers: Record<string, string> } {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: u.toString(), headers: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), headers: { authorization: `Basic ${basic}` } };
}

export function createHttpTrigger(o: HttpTriggerOptions): ReloadTrigger {
  const shown = redactUrl(o.url);
  let req: ReturnType<typeof requestFor>;
  try {
    req = requestFor(o.url);
  } catch (err) {
    throw new ConfigError('http-post', `not a valid URL: "${shown}"`, { cause: err });
  }
  return {
    name: `http-post ${shown}`,
    async fire(e, ctx) {
      // The whole exchange (answer and body preview) under one deadline of our own (see deadline.ts).
      const d = deadline(ctx.signal, o.timeoutMs, `POST ${shown}`);
      const signal = d.signal;
      try {
        let res: Response;
        try {
          res = await fetch(req.url, { method: 'POST', body: new Uint8Array(0), headers: req.headers, signal, redirect: 'manual' });
        } catch (err) {
          const timedOut = signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError';
          const why = timedOut ? `timed out after ${o.timeoutMs / 1000}s` : `failed: ${causeMessage(err)}`;
          throw new ReloadError(`POST ${shown} ${why}`, { cause: err });
        }
        if (res.status < 200 || res.status > 299) {
          const body = await bodyPreview(res);
          throw new ReloadError(`POST ${shown} answered ${res.status} ${res.statusText}${body ? `: ${body}` : ''}`);
        }
        await res.body?.cancel().catch(() => {});
        ctx.log.debug({ event: 'http-post', status: res.status, version: e.version }, `POST ${shown}: ${res.status}`);
      } finally {
        d.clear();
      }
    },
  };
}

/** fetch() says "fetch failed" and keeps the reason (ECONNREFUSED …) in `cause`. */
function causeMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const inner = e.cause?.code ?? e.cause?.message;
  return inner ? `${e.message ?? 'error'} (${inner})` : (e.message ?? String(err));
}
