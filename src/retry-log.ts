/**
 * The line withRetry logs at info before each retry, so a wrong port or a
 * dead server is visible at once instead of after the last attempt:
 * `cannot reach 127.0.0.1:2121 (ECONNREFUSED); retry 2/5 in 0.5-1 s`.
 */

/** Socket errors that mean the endpoint could not be reached at all. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET']);

interface Found {
  readonly code: string;
  readonly where: string | null;
}

/** The first socket error in the cause chain, with the host:port it was about. */
export function unreachable(err: unknown): Found | null {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const x = e as { code?: unknown; address?: unknown; port?: unknown; hostname?: unknown; cause?: unknown };
    if (typeof x.code === 'string' && UNREACHABLE.has(x.code)) {
      const host = typeof x.address === 'string' ? x.address : typeof x.hostname === 'string' ? x.hostname : null;
      const where = host === null ? null : typeof x.port === 'number' ? `${host.includes(':') ? `[${host}]` : host}:${x.port}` : host;
      return { code: x.code, where };
    }
    e = x.cause;
  }
  return null;
}

const secs = (ms: number) => String(ms < 1000 ? Number((ms / 1000).toFixed(2)) : ms < 10_000 ? Number((ms / 1000).toFixed(1)) : Math.round(ms / 1000));

/**
 * p-retry's wait before retry n (randomized): between min·2^(n-1) and twice
 * that, capped at max.
 */
export function retryWindow(retry: number, minMs: number, maxMs: number): string {
  const lo = Math.min(minMs * 2 ** (retry - 1), maxMs);
  const hi = Math.min(lo * 2, maxMs);
  return lo === hi ? `${secs(lo)} s` : `${secs(lo)}-${secs(hi)} s`;
}

export function retryMessage(err: unknown, what: string, retry: number, retries: number, window: string): string {
  const u = unreachable(err);
  const why = u?.where ? `cannot reach ${u.where} (${u.code})` : `${what} failed (${u?.code ?? (err as Error)?.message ?? String(err)})`;
  return `${why}; retry ${retry}/${retries} in ${window}`;
}
