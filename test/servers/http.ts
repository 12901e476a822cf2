import { writeLargeFile } from '../helpers/large.js';
/**
 * A node http server publishing a directory as `python3 -m http.server` does
 * (autoindex page, 301 `dir` → `dir/`), plus Last-Modified, ETag, Range and
 * fault injection (cut a download, fail with a status, stall, ignore Range,
 * require a header). And a forward proxy that records what it carried.
 */
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';

export interface HttpFileServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  /** The next GET of `rel` (path under the served dir) is cut after `afterBytes` body bytes. */
  dropNextDownload(rel: string, afterBytes: number): void;
  /** The next `times` requests for `rel` answer `status`. */
  failNext(rel: string, status: number, times?: number): void;
  /** The next request for `rel` never gets an answer. */
  stallNext(rel: string): void;
  /** How many requests are being stalled right now. */
  stalled(): number;
  /**
   * Every GET of `rel` (a hostile server): its response headers, or its body, come
   * one byte every `everyMs`. Each trickle ends by itself after `forMs` (the socket is cut).
   */
  trickle(rel: string, what: 'headers' | 'body', o?: { everyMs?: number; forMs?: number }): void;
  /** Off: Range headers are ignored (200 with the whole file), as some servers do. */
  setRanges(on: boolean): void;
  /** Requests without this header value get 401. null turns it off. */
  requireHeader(name: string, value: string | null): void;
  close(): Promise<void>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** python3 -m http.server's page, with the parent/sort/foreign links other servers add. */
async function indexPage(abs: string, urlPath: string): Promise<string> {
  const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  const items = entries.map((d) => {
    const slash = d.isDirectory() ? '/' : '';
    return `<li><a href="${encodeURIComponent(d.name)}${slash}">${esc(d.name)}${slash}</a></li>`;
  });
  return [
    '<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
    `<title>Directory listing for ${esc(urlPath)}</title>\n</head>\n<body>`,
    `<h1>Directory listing for ${esc(urlPath)}</h1>`,
    '<p><a href="../">Parent Directory</a> <a href="?C=M;O=A">sort</a> <a href="http://example.invalid/x">elsewhere</a></p>',
    '<hr>\n<ul>',
    ...items,
    '</ul>\n<hr>\n</body>\n</html>\n',
  ].join('\n');
}

interface Trickle {
  readonly what: 'headers' | 'body';
  readonly everyMs: number;
  readonly forMs: number;
}

interface Faults {
  trickles: Map<string, Trickle>;
  drops: Map<string, number>;
  fails: Map<string, { status: number; times: number }>;
  stalls: Set<string>;
  stalled: number;
  ranges: boolean;
  header: { name: string; value: string } | null;
}

function parseRange(h: string | undefined, size: number): { start: number; end: number } | 'bad' | null {
  if (!h) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(h);
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return start >= size || end < start ? 'bad' : { start, end };
}

async function serveFile(req: IncomingMessage, res: ServerResponse, abs: string, rel: string, f: Faults) {
  const st = await stat(abs);
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'last-modified': st.mtime.toUTCString(),
    etag: `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}"`,
    'accept-ranges': f.ranges ? 'bytes' : 'none',
  };
  const range = f.ranges ? parseRange(req.headers.range, st.size) : null;
  if (range === 'bad') {
    res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? st.size - 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
  headers['content-length'] = end - start + 1;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || st.size === 0) return void res.end();
  const cut = f.drops.get(rel);
  f.drops.delete(rel);
  await sendBytes(res, abs, start, cut === undefined ? end : Math.min(end, start + cut - 1));
  if (cut === undefined) res.end();
  else res.socket?.destroy();
}

/**
 * Streams bytes [start, last] through one reused buffer, each write awaited: the
 * server, which shares the test process with the client, adds no garbage of its
 * own to the client's memory measurement.
 */
async function sendBytes(res: ServerResponse, abs: string, start: number, last: number): Promise<void> {
  const fh = await open(abs, 'r');
  const buf = Buffer.allocUnsafe(256 * 1024);
  try {
    for (let pos = start; pos <= last && !res.destroyed;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, last - pos + 1), pos);
      if (bytesRead === 0) break;
      await new Promise<void>((resolve, reject) => res.write(buf.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Writes a 200 answer to the raw socket one byte at a time: the headers never end, or the body crawls. */
function trickleAnswer(req: IncomingMessage, t: Trickle, size: number): void {
  const sock = req.socket;
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`;
  let i = 0;
  const started = Date.now();
  const tick = () => {
    if (sock.destroyed) return;
    if (Date.now() - started > t.forMs) return void sock.destroy();
    const headersDone = i >= head.length;
    if (t.what === 'body' && !headersDone) {
      sock.write(head);
      i = head.length;
    } else if (!headersDone || t.what === 'body') {
      sock.write(headersDone ? 'x' : head[i++]!);
    }
    setTimeout(tick, t.everyMs).unref();
  };
  tick();
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse, f: Faults): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const urlPath = decodeURIComponent(url.pathname);
  if (urlPath.split('/').includes('..')) return void res.writeHead(400).end();
  const rel = urlPath.replace(/^\/+|\/+$/g, '');
  if (f.header && req.headers[f.header.name] !== f.header.value) {
    return void res.writeHead(401, { 'www-authenticate': 'Basic realm="models"' }).end();
  }
  const trickle = req.method === 'GET' ? f.trickles.get(rel) : undefined;
  if (trickle) return trickleAnswer(req, trickle, (await stat(path.join(root, ...rel.split('/'))).catch(() => null))?.size ?? 1024);
  const fail = f.fails.get(rel);
  if (fail) {
    if (--fail.times <= 0) f.fails.delete(rel);
    return void res.writeHead(fail.status, { 'content-type': 'text/plain' }).end(`injected ${fail.status}\n`);
  }
  if (f.stalls.delete(rel)) {
    f.stalled++;
    req.once('close', () => f.stalled--);
    return; // never answered; closeAllConnections() ends it
  }
  const abs = path.join(root, ...rel.split('/'));
  const st = await stat(abs).catch(() => null);
  if (!st) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404 Not Found</h1>');
  if (!st.isDirectory()) return serveFile(req, res, abs, rel, f);
  if (!url.pathname.endsWith('/')) return void res.writeHead(301, { location: `${url.pathname}/` }).end();
  const html = Buffer.from(await indexPage(abs, urlPath));
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': html.length });
  res.end(req.method === 'HEAD' ? undefined : html);
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

export async function startHttpFileServer(root: string): Promise<HttpFileServer> {
  const f: Faults = { trickles: new Map(), drops: new Map(), fails: new Map(), stalls: new Set(), stalled: 0, ranges: true, header: null };
  const server = createServer((req, res) => {
    handle(root, req, res, f).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.socket?.destroy();
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    dropNextDownload: (rel, afterBytes) => void f.drops.set(rel, afterBytes),
    failNext: (rel, status, times = 1) => void f.fails.set(rel, { status, times }),
    stallNext: (rel) => void f.stalls.add(rel),
    trickle: (rel, what, o = {}) => void f.trickles.set(rel, { what, everyMs: o.everyMs ?? 1000, forMs: o.forMs ?? 120_000 }),
    stalled: () => f.stalled,
    setRanges: (on) => void (f.ranges = on),
    requireHeader: (name, value) => void (f.header = value === null ? null : { name: name.toLowerCase(), value }),
    close: () => shut(server),
  };
}

export interface CarriedRequest {
  readonly method: string;
  /** Absolute URL. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT`, for HTTP_PROXY or --proxy. */
  readonly url: string;
  /** Absolute request URLs it carried. */
  readonly carried: string[];
  /** The same requests, with method and headers. */
  readonly requests: CarriedRequest[];
  close(): Promise<void>;
}

/** A plain HTTP forward proxy (absolute-form request targets). */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const carried: string[] = [];
  const requests: CarriedRequest[] = [];
  const server = createServer((req, res) => {
    carried.push(req.url ?? '');
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    const up = request(req.url ?? '', { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, carried, requests, close: () => shut(server) };
}

export interface DirFiles {
  put(p: string, data: Buffer | string): Promise<void>;
  /** `size` bytes of 7s, streamed to disk; returns their md5. */
  putLarge(p: string, size: number): Promise<string>;
  remove(p: string): Promise<void>;
}

/** The harness side of a served directory: files written straight under `root/prefix`. */
export function dirFiles(root: string, prefix: string): DirFiles {
  const abs = (p: string) => path.join(root, prefix, ...p.split('/'));
  return {
    async put(p, data) {
      await mkdir(path.dirname(abs(p)), { recursive: true });
      await writeFile(abs(p), data);
    },
    async putLarge(p, size) {
      return writeLargeFile(abs(p), size);
    },
    async remove(p) {
      await rm(abs(p), { force: true });
    },
  };
}
