/**
 * One HTTP GET of a file's bytes through the wire engine (src/wire/), shared
 * by the sources that download over plain HTTP: HTTP itself, WebHDFS
 * datanode reads, S3 through a pre-signed URL. The request is written here,
 * the answer's head judged here on the main thread (its version through
 * onMeta, a wrong status or a server ignoring Range refused before a byte is
 * kept), and an answer that is not for the wire path (a redirect, a chunked
 * body) resolves null, nothing written: the source reads it through open().
 */
import { RemoteError, type MonitorError } from '../errors.js';
import type { WireEngine, WireHead } from '../wire/engine.js';
import { WireUnsupportedError } from '../wire/faults.js';
import type { DownloadOptions, DownloadResult, DownloadTarget, OpenedMeta } from './types.js';

export interface WireGet {
  /** An http: URL (https and proxies stay on the stock path: the caller checks). */
  readonly url: URL;
  /** Request headers beyond Host, Range and Connection (lower-case names; values already checked for CR/LF). */
  readonly headers: Readonly<Record<string, string>>;
  readonly what: string;
  /** The status of a good answer; absent: 200 for a whole file, 206 for a range. */
  readonly expect?: number;
  /** The offset and length are in the URL (a WebHDFS datanode read): no Range header. */
  readonly rangeInUrl?: boolean;
  /** What a good answer says about the file (size, version), for the one-version check. */
  meta(head: WireHead, ranged: boolean): OpenedMeta;
  /** A bad answer's status (and the start of its body) as the shared error set. */
  refuse(status: number, body: string): MonitorError;
}

/** The statuses an answer redirects with (the wire path leaves them to the stock client, which follows them). */
export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Where a wire job for `url` connects: its host (an IPv6 literal without brackets) and port. */
function endpoint(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) || 80 };
}

/** The request line and headers; `Connection: keep-alive` lets the worker reuse the socket for the next file. */
export function requestText(g: Pick<WireGet, 'url' | 'headers'>, range: string | null, method: 'GET' | 'HEAD' = 'GET'): string {
  // A signed request (S3) carries its own Host and Range, covered by the signature: sent as they are.
  const own = (name: string) => Object.keys(g.headers).find((k) => k.toLowerCase() === name);
  const host = own('host');
  const lines = [`${method} ${g.url.pathname}${g.url.search} HTTP/1.1`, `Host: ${host ? g.headers[host] : g.url.host}`];
  for (const [k, v] of Object.entries(g.headers)) if (k !== host && k.toLowerCase() !== 'connection') lines.push(`${k}: ${v}`);
  if (range && !own('range')) lines.push(`Range: ${range}`);
  lines.push('Connection: keep-alive', '', '');
  return lines.join('\r\n');
}

/** The Range a download asks for: from its position (a resume), up to its length (a part); null for a whole file. */
export function rangeOf(t: Pick<DownloadTarget, 'position' | 'length' | 'part'>): string | null {
  return t.position > 0 || t.part ? `bytes=${t.position}-${t.part ? t.position + t.length - 1 : ''}` : null;
}

export async function wireGet(engine: WireEngine, g: WireGet, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null> {
  const range = g.rangeInUrl ? null : rangeOf(t);
  const ranged = range !== null;
  const good = g.expect ?? (ranged ? 206 : 200);
  const onHead = (head: WireHead) => {
    if (head.status === good) {
      if (ranged && g.expect === undefined && !(head.headers['content-range'] ?? '').startsWith(`bytes ${t.position}-`)) {
        throw new RemoteError(`${g.what}: unexpected Content-Range ${head.headers['content-range']}`);
      }
      o.onMeta?.(g.meta(head, ranged));
    } else if (head.status === 200 && ranged) throw new RemoteError(`${g.what}: the server ignored Range: ${range}`);
  };
  let r;
  try {
    r = await engine.run(
      {
        ...endpoint(g.url),
        protocol: 'http',
        request: requestText(g, range),
        file: t.file,
        position: t.position,
        truncate: t.fresh,
        length: t.length,
        md5: t.md5,
        idleMs: t.idleMs,
        minBytesPerSec: t.minBytesPerSec,
        headMs: t.idleMs,
        what: g.what,
        ...(g.expect !== undefined ? { expect: g.expect } : {}),
      },
      { signal: o.signal, onBytes: o.onBytes, onHead },
    );
  } catch (err) {
    if (err instanceof WireUnsupportedError) return null;
    throw err;
  }
  const status = r.head?.status ?? 0;
  if (status === good) return { bytes: r.bytes, md5: r.md5 };
  if (REDIRECTS.has(status) && r.head?.headers.location) return null;
  throw g.refuse(status, r.errorBody ?? '');
}

/**
 * A HEAD through the wire engine: the answer's head, read in a worker on a
 * kept-alive socket (a listing's HEADs cost the main thread one message each,
 * and leave warm connections for the GETs after them). Any status is returned
 * as it is: the caller judges it (and takes its stock path for a redirect).
 */
export async function wireHead(
  engine: WireEngine,
  g: Pick<WireGet, 'url' | 'headers' | 'what'>,
  o: { signal: AbortSignal; timeoutMs: number },
): Promise<WireHead> {
  const r = await engine.run(
    {
      ...endpoint(g.url),
      protocol: 'http',
      headOnly: true,
      request: requestText(g, null, 'HEAD'),
      file: '',
      position: 0,
      length: 0,
      md5: false,
      idleMs: o.timeoutMs,
      minBytesPerSec: 0,
      headMs: o.timeoutMs,
      what: g.what,
    },
    { signal: o.signal },
  );
  return r.head!;
}
