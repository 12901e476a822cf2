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
import { proxyAgent, resolveProxy, type ProxySetting } from './proxy.js';

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
  /** No byte either way for this long (connect, mid-body) fails the request; so does no complete answer header in this long. */
  readonly timeoutMs: number;
  /** Connections per origin. */
  readonly maxSockets: number;
  /** --proxy: one proxy for every origin, null = none; absent = the environment's, per origin. */
  readonly proxy?: ProxySetting;
}

interface Route {
  readonly agent: http.Agent;
  /** Through a proxy from the environment. */
  readonly proxied: boolean;
}

export class HttpClient {
  /** How each origin is reached, decided at its first request (NO_PROXY is per host). */
  private readonly routes = new Map<string, Promise<Route>>();
  private readonly agents: http.Agent[] = [];

  constructor(private readonly o: HttpClientOptions) {}

  private route(url: URL): Promise<Route> {
    let r = this.routes.get(url.origin);
    if (!r) {
      r = this.newRoute(url);
      this.routes.set(url.origin, r);
    }
    return r;
  }

  private async newRoute(url: URL): Promise<Route> {
    const secure = url.protocol === 'https:';
    const a = { keepAlive: true, maxSockets: this.o.maxSockets };
    const proxy = resolveProxy(this.o.proxy, url.href);
    const agent = proxy ? await proxyAgent(proxy, secure, a) : secure ? new https.Agent(a) : new http.Agent(a);
    this.agents.push(agent);
    return { agent, proxied: proxy !== null };
  }

  async request(url: URL, o: RequestOptions): Promise<HttpResponse> {
    o.signal.throwIfAborted();
    const { agent, proxied } = await this.route(url);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = mod.request(url, { method: o.method ?? 'GET', headers: o.headers, agent, signal: o.signal, timeout: this.o.timeoutMs }, (res) => {
        clearTimeout(headers);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      // The whole wait for the answer's headers is bounded (a server trickling them byte by byte defeats
      // any inactivity timeout), by a timer of our own (see deadline.ts for why not AbortSignal.timeout).
      const headers = setTimeout(
        () => req.destroy(Object.assign(new Error(`no response headers within ${this.o.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
        this.o.timeoutMs,
      ).unref();
      req.once('close', () => clearTimeout(headers));
      // The socket's inactivity timeout: before the answer it fails the request, mid-body it fails the body.
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no data for ${this.o.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: Error & { code?: string }) => {
        // The proxy agents fail a refused or dropped CONNECT with a bare Error: a network failure all the same.
        if (proxied && err.code === undefined && err.name === 'Error')
          reject(Object.assign(new Error(`proxy: ${err.message}`, { cause: err }), { code: 'ECONNRESET' }));
        else reject(err);
      });
      req.end();
    });
  }

  close(): void {
    for (const a of this.agents.splice(0)) a.destroy();
    this.routes.clear();
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
