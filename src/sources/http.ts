import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { guardedBody, header, mapHttpError, statusError, versionOf } from './http-body.js';
import { httpMeta } from './http-wire.js';
import { REDIRECTS, wireGet, wireHead } from './wire-get.js';
import type { WireEngine } from '../wire/engine.js';
import { dump, HttpClient, readText } from './http-client.js';
import { ConfigError, NotFoundError, RemoteError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeUrlPart, type Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import { joinRemote } from '../paths.js';
import { withDeadline } from '../deadline.js';
import { pool } from '../pool.js';
import { ContentKeys } from './content-key.js';
import { parseIndex, type IndexLink } from './http-index.js';
import { parseProxy, proxyOption, resolveProxy, type ProxySetting } from './proxy.js';
import {
  withMeta,
  type DownloadOptions,
  type DownloadResult,
  type DownloadTarget,
  type IoOptions,
  type OpenOptions,
  type RemoteEntry,
  type Source,
  type SourceDeps,
  type SourceFactory,
} from './types.js';

export interface HttpOptions {
  /** The remote root, credentials stripped, no trailing `/`. */
  readonly root: string;
  /** Sent with every request to the root's origin (--http-header, URL user:password). */
  readonly headers: Readonly<Record<string, string>>;
  /** --proxy (absent: the environment's). */
  readonly proxy: ProxySetting;
}

const options = [
  {
    name: 'general-host',
    kind: 'string',
    metavar: 'URL',
    group: 'Source (Paddle Serving flags)',
    help: 'with --type general: http://host:port or ftp://host:port',
  },
  {
    name: 'http-header',
    kind: 'list',
    secret: true,
    metavar: "'NAME: VALUE'",
    group: 'HTTP',
    help: "extra request header for http(s) remotes, e.g. 'Authorization: Bearer …' (repeatable; masked in logs)",
  },
  proxyOption,
] as const satisfies readonly OptionSpec[];

/** `http(s)://host/path` (Paddle `--type general --general_host`): autoindex directories, or single files. */
export const http = {
  kind: 'http',
  schemes: ['http', 'https'],
  options,
  paddle: {
    // Paddle's `general` is any URL: `--general_host ftp://h:21` picks the FTP source by its scheme.
    types: ['general', 'http'],
    url(type, path, v) {
      if (v.generalHost === null) throw new ConfigError('general-host', `required with --type ${type}`);
      return { url: `${v.generalHost.replace(/\/+$/, '')}${path}`, flag: 'general-host' };
    },
  },
  parse(remote: URL, v: Values<typeof options>): HttpOptions {
    if (remote.protocol !== 'http:' && remote.protocol !== 'https:') {
      throw new ConfigError('remote', `not an http(s) URL: ${remote.protocol}`);
    }
    if (remote.search || remote.hash) {
      throw new ConfigError('remote', 'http(s) remotes take no query or fragment: paths are appended to them');
    }
    const headers: Record<string, string> = {};
    if (remote.username || remote.password) {
      const user = decodeUrlPart('remote', remote.username);
      const pass = decodeUrlPart('remote', remote.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    }
    for (const line of v.httpHeader) {
      if (line.trim() === '') continue;
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/.exec(line);
      if (!m) throw new ConfigError('http-header', "expected 'Name: value' (value masked)");
      headers[m[1]!.toLowerCase()] = m[2]!.trim();
    }
    const root = new URL(remote.href);
    root.username = '';
    root.password = '';
    return { root: root.href.replace(/\/+$/, ''), headers, proxy: parseProxy(v.proxy) };
  },
  proxy: (opts: HttpOptions) => resolveProxy(opts.proxy, opts.root),
  create(opts: HttpOptions, deps: SourceDeps): Source {
    return new HttpSource(opts, deps);
  },
} satisfies SourceFactory<HttpOptions, typeof options>;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: IncomingMessage;
  /** After redirects. */
  readonly url: URL;
}

const MAX_REDIRECTS = 5;
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const MAX_DEPTH = 64;

class HttpSource implements Source {
  readonly kind = 'http';
  readonly features = { md5: false, etag: true, ranges: true, mtimeResolutionMs: 1000 } as const;
  readonly displayUrl: string;
  private readonly root: URL;
  private readonly http: HttpClient;
  private readonly log: Logger;
  /** Version keys for file GETs through a cache tier (content-key.ts). */
  private readonly keys: ContentKeys;
  /** HEADs of one directory's files in flight at once: the agent's sockets. */
  private readonly headWidth: number;

  constructor(
    private readonly opts: HttpOptions,
    private readonly deps: SourceDeps,
  ) {
    this.root = new URL(opts.root);
    this.displayUrl = opts.root;
    this.log = deps.log;
    // --proxy, else HTTP_PROXY / HTTPS_PROXY / NO_PROXY; --timeout bounds the wait for the answer and an idle body.
    this.headWidth = Math.max(4, deps.concurrency * 2);
    this.http = new HttpClient({ timeoutMs: deps.timeoutMs, maxSockets: this.headWidth, proxy: opts.proxy });
    this.keys = new ContentKeys(resolveProxy(opts.proxy, opts.root) !== null);
  }

  /** The URL of a path under the root, each segment %-encoded; `dir` adds the trailing `/`. */
  private url(p: string, dir = false): URL {
    const rel = joinRemote(p).replace(/^\//, '');
    const enc = rel === '' ? '' : `/${rel.split('/').map(encodeURIComponent).join('/')}`;
    const u = new URL(this.root.href);
    u.pathname = `${this.root.pathname.replace(/\/+$/, '')}${enc}${dir ? '/' : ''}`;
    return u;
  }

  /** One request, following redirects; the configured headers go only to the root's origin. */
  private async send(method: 'GET' | 'HEAD', url: URL, signal: AbortSignal, extra: Record<string, string> = {}) {
    let at = url;
    for (let hop = 0; ; hop++) {
      const own = at.origin === this.root.origin ? this.opts.headers : {};
      const res = await this.http.request(at, {
        method,
        signal,
        // no-cache: a shared cache on the way answers only after the origin confirms its copy (a 304)
        headers: { 'accept-encoding': 'identity', 'user-agent': 'model-monitor', 'cache-control': 'no-cache', ...own, ...extra },
      });
      const a: Answer = { status: res.statusCode, headers: res.headers, body: res.body, url: at };
      const location = header(a, 'location');
      if (!REDIRECTS.has(a.status) || !location) return a;
      await dump(res.body);
      if (hop >= MAX_REDIRECTS) throw new RemoteError(`${method} ${url.pathname}: too many redirects`);
      at = new URL(location, at);
    }
  }

  /** A HEAD under the per-request deadline (answer and the empty body), errors mapped. */
  private head(url: URL, outer: AbortSignal): Promise<Omit<Answer, 'body'>> {
    const what = `HEAD ${url.pathname}`;
    return withDeadline(outer, this.deps.timeoutMs, what, async (signal) => {
      try {
        const { body, ...rest } = await this.send('HEAD', url, signal);
        await dump(body);
        return rest;
      } catch (err) {
        throw mapHttpError(err, what, signal);
      }
    });
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const asked = this.url(p);
    let a = await this.head(asked, o.signal);
    if (a.status === 404 || a.status === 410) {
      // some servers list `dir/` without redirecting `dir` to it
      a = await this.head(this.url(p, true), o.signal);
      if (a.status === 404 || a.status === 410) return null;
      if (a.status === 200 && /^text\/html\b/i.test(header(a, 'content-type') ?? '')) {
        return { path: p, size: 0, isDirectory: true };
      }
      return null;
    }
    if (a.status !== 200) throw statusError(a.status, `HEAD ${asked.pathname}`);
    const redirectedToDir = a.url.pathname.endsWith('/') && !asked.pathname.endsWith('/');
    const e = redirectedToDir ? { path: p, size: 0, isDirectory: true } : this.entry(p, a);
    this.keys.note(p, e);
    return e;
  }

  private entry(p: string, a: Omit<Answer, 'body'>): RemoteEntry {
    const len = Number(header(a, 'content-length'));
    if (!Number.isSafeInteger(len) || len < 0) {
      throw new RemoteError(`HEAD ${a.url.pathname}: no Content-Length, cannot size the file`);
    }
    return { path: p, size: len, ...versionOf(a) };
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const seen = new Set<string>();
    this.keys.reset();
    for await (const e of this.walk(this.url(dir, true), '', o.signal, seen)) {
      this.keys.note(join(dir, e.path), e);
      yield e;
    }
    this.log.debug({ event: 'listed', indexes: seen.size }, 'walked the autoindex pages');
  }

  /** wget -r -np: the index of `dirUrl`, HEAD its files (sizes), recurse into its subdirectories. */
  private async *walk(dirUrl: URL, rel: string, signal: AbortSignal, seen: Set<string>): AsyncIterable<RemoteEntry> {
    if (seen.has(dirUrl.href)) return; // a symlink loop on the server
    seen.add(dirUrl.href);
    if (seen.size > 100_000 || rel.split('/').length > MAX_DEPTH) {
      throw new RemoteError(`${dirUrl.pathname}: directory tree too deep or too large to walk`);
    }
    const links = await this.index(dirUrl, signal);
    const subdirs = links.filter((l) => l.isDirectory).map((l) => l.name);
    const files = links.filter((l) => !l.isDirectory).map((l) => l.name);
    // A sliding window as wide as the agent's sockets (not lock-step batches, each as slow as its slowest HEAD).
    const heads = await pool(files, this.headWidth, signal, (n, s) => this.headFile(new URL(encodeURIComponent(n), dirUrl), s));
    for (const [j, e] of heads.entries()) {
      if (e.isDirectory)
        subdirs.push(files[j]!); // a link without its trailing `/`
      else yield { ...e, path: join(rel, files[j]!) };
    }
    for (const name of subdirs) {
      yield* this.walk(new URL(`${encodeURIComponent(name)}/`, dirUrl), join(rel, name), signal, seen);
    }
  }

  /** HEAD one listed file: its size (the index's size column is rounded), mtime and ETag. */
  private async headFile(url: URL, signal: AbortSignal): Promise<RemoteEntry> {
    const a = (await this.wireHead(url, signal)) ?? (await this.head(url, signal));
    if (a.status !== 200) throw statusError(a.status, `HEAD ${url.pathname}`);
    if (a.url.pathname.endsWith('/')) return { path: '', size: 0, isDirectory: true };
    return this.entry('', a);
  }

  /** GET an autoindex page (bounded in size, the whole answer under the per-request deadline) and parse its links. */
  private index(dirUrl: URL, outer: AbortSignal): Promise<IndexLink[]> {
    const what = `GET ${dirUrl.pathname}`;
    return withDeadline(outer, this.deps.timeoutMs, what, async (signal) => {
      try {
        const a = await this.send('GET', dirUrl, signal);
        if (a.status !== 200) {
          await dump(a.body);
          if (a.status === 404 || a.status === 410) throw new NotFoundError(`no such directory: ${dirUrl.href}`);
          throw statusError(a.status, what);
        }
        if (!/^text\/html\b/i.test(header(a, 'content-type') ?? '')) {
          await dump(a.body);
          throw new RemoteError(`${what}: not an HTML directory index (${header(a, 'content-type') ?? 'no type'})`);
        }
        const page = await readText(a.body, MAX_INDEX_BYTES, () => new RemoteError(`${what}: directory index larger than ${MAX_INDEX_BYTES} bytes`));
        return parseIndex(page, dirUrl);
      } catch (err) {
        throw mapHttpError(err, what, signal);
      }
    });
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    const url = this.keys.apply(this.url(p), p);
    const start = o.start ?? 0;
    const ranged = start > 0 || o.length !== undefined;
    const range = `bytes=${start}-${o.length !== undefined ? start + o.length - 1 : ''}`;
    const what = `GET ${url.pathname}`;
    let a: Answer;
    try {
      // o.signal only: headersTimeout bounds the wait for the answer, bodyTimeout an idle body
      a = await this.send('GET', url, o.signal, ranged ? { range } : {});
    } catch (err) {
      throw mapHttpError(err, what, o.signal);
    }
    const isDir = a.url.pathname.endsWith('/') && !url.pathname.endsWith('/');
    if (a.status !== (ranged ? 206 : 200) || isDir) {
      await dump(a.body);
      if (isDir) throw new NotFoundError(`${what}: is a directory`);
      if (a.status === 200) throw new RemoteError(`${what}: the server ignored Range: ${range}`);
      throw statusError(a.status, what);
    }
    if (ranged && !header(a, 'content-range')?.startsWith(`bytes ${start}-`)) {
      a.body.destroy();
      throw new RemoteError(`${what}: unexpected Content-Range ${header(a, 'content-range')}`);
    }
    const len = Number(header(a, 'content-length'));
    const expected = Number.isSafeInteger(len) ? len : undefined;
    const mapError = (err: unknown) => mapHttpError(err, what, o.signal);
    const total = ranged ? Number(/\/(\d+)$/.exec(header(a, 'content-range') ?? '')?.[1]) : expected;
    const { mtimeMs, etag } = versionOf(a);
    return withMeta(guardedBody(a.body, { signal: o.signal, expected, mapError, what }), {
      ...(total !== undefined && Number.isSafeInteger(total) ? { size: total } : {}),
      ...(mtimeMs !== undefined ? { mtimeMs } : {}),
      ...(etag !== undefined ? { etag } : {}),
    });
  }

  /** The wire engine when `url` may use it: plain http:// without a proxy. */
  private wireFor(url: URL): WireEngine | null {
    const wire = this.deps.wire;
    return wire && url.protocol === 'http:' && resolveProxy(this.opts.proxy, url.href) === null ? wire : null;
  }

  private requestHeaders(): Record<string, string> {
    return { 'accept-encoding': 'identity', 'user-agent': 'model-monitor', 'cache-control': 'no-cache', ...this.opts.headers };
  }

  /** A listed file's HEAD on the wire path; null (the stock HEAD) off it and for a redirect, which send() follows. */
  private async wireHead(url: URL, signal: AbortSignal): Promise<Omit<Answer, 'body'> | null> {
    const wire = this.wireFor(url);
    // Until a worker is up (they boot while the first HEADs go the stock way).
    if (!wire?.warm()) return null;
    const head = await wireHead(wire, { url, headers: this.requestHeaders(), what: `HEAD ${url.pathname}` }, { signal, timeoutMs: this.deps.timeoutMs });
    if (REDIRECTS.has(head.status)) return null;
    return { status: head.status, headers: head.headers, url };
  }

  /** The wire path (src/wire/): plain http:// without a proxy; else (and for a redirect) null: open(). */
  async download(p: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null> {
    const url = this.keys.apply(this.url(p), p);
    const wire = this.wireFor(url);
    if (!wire) return null;
    const what = `GET ${url.pathname}`;
    return wireGet(wire, { url, headers: this.requestHeaders(), what, meta: httpMeta, refuse: (status) => statusError(status, what) }, t, o);
  }

  requestUrl(p: string): string {
    return this.keys.apply(this.url(p), p, true).href;
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

const join = (a: string, b: string) => (a === '' ? b : `${a}/${b}`);
