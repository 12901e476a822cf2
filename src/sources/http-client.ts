/**
 * HTTP(S) requests for the HTTP and WebHDFS sources, on node:http / node:https:
 * keep-alive agents sized to --concurrency, HTTP_PROXY / HTTPS_PROXY / NO_PROXY,
 * one inactivity timeout (connect, waiting for the answer, an idle body) and an
 * AbortSignal. Redirects are not followed: the callers decide (HTTP follows
 * them, WebHDFS sends the datanode its own request).
 *
 * Not undici: its HTTP parser is WebAssembly, which costs every run ~45 MiB of
 * RSS and ~0.3 s at the first request, and undici 7 loops on a proxy that drops
 * CONNECT (nodejs/undici#3897). node's parser is native and its agents are
 * enough for GET and HEAD.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { finished } from 'node:stream/promises';
import { proxyFor, proxyAgent } from './proxy.js';

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** Must be read to its end, or dumped, or destroyed. */
  readonly body: IncomingMessage;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'HEAD';
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

export interface HttpClientOptions {
  /** No byte either way for this long (connect, waiting for headers, mid-body) fails the request. */
  readonly timeoutMs: number;
  /** Connections per origin. */
  readonly maxSockets: number;
}

export class HttpClient {
  private readonly direct: { http: http.Agent; https: https.Agent };
  private readonly proxied = new Map<string, Promise<http.Agent>>();

  constructor(private readonly o: HttpClientOptions) {
    const a = { keepAlive: true, maxSockets: o.maxSockets };
    this.direct = { http: new http.Agent(a), https: new https.Agent(a) };
  }

  /** The proxy that applies to `url` (from the environment), or null. */
  proxyFor(url: URL): string | null {
    return proxyFor(url.href);
  }

  private agent(url: URL): Promise<http.Agent> | http.Agent {
    const secure = url.protocol === 'https:';
    const proxy = proxyFor(url.href);
    if (!proxy) return secure ? this.direct.https : this.direct.http;
    const key = `${secure ? 'https' : 'http'} ${proxy}`;
    let a = this.proxied.get(key);
    if (!a) this.proxied.set(key, (a = proxyAgent(proxy, secure, { keepAlive: true, maxSockets: this.o.maxSockets })));
    return a;
  }

  async request(url: URL, o: RequestOptions): Promise<HttpResponse> {
    o.signal.throwIfAborted();
    const agent = await this.agent(url);
    const proxied = agent !== this.direct.http && agent !== this.direct.https;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = mod.request(url, { method: o.method ?? 'GET', headers: o.headers, agent, signal: o.signal, timeout: this.o.timeoutMs }, (res) => {
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      // The socket's inactivity timeout: before the answer it fails the request, mid-body it fails the body.
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${this.o.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: Error & { code?: string }) => {
        // The proxy agents fail a refused or dropped CONNECT with a bare Error: a network failure all the same.
        if (proxied && err.code === undefined && err.name === 'Error') reject(Object.assign(new Error(`proxy: ${err.message}`, { cause: err }), { code: 'ECONNRESET' }));
        else reject(err);
      });
      req.end();
    });
  }

  close(): void {
    this.direct.http.destroy();
    this.direct.https.destroy();
    for (const a of this.proxied.values()) void a.then((x) => x.destroy(), () => {});
    this.proxied.clear();
  }
}

/** Reads and discards a body, so its keep-alive connection can be reused. */
export async function dump(body: IncomingMessage): Promise<void> {
  body.resume();
  await finished(body).catch(() => {});
}

/**
 * A small body as text, at most `max` bytes: past that the connection is
 * dropped and the text cut there, or `tooLarge()` is thrown when given.
 */
export async function readText(body: IncomingMessage, max = 1024 * 1024, tooLarge?: () => Error): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += (c as Buffer).length;
    if (n > max) {
      body.destroy();
      if (tooLarge) throw tooLarge();
      break;
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function readJson(body: IncomingMessage, max = 64 * 1024 * 1024): Promise<unknown> {
  return JSON.parse(await readText(body, max));
}
