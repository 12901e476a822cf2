/**
 * The operations endpoint (--metrics-port): /healthz (the process answers),
 * /readyz (a model is served and the last sync did not fail), /metrics
 * (Prometheus text format). Plain node:http, GET and HEAD only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export interface ServerOptions {
  readonly host: string;
  /** 0 = a random free port (the bound one is returned). */
  readonly port: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function handle(req: IncomingMessage, res: ServerResponse, o: ServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'method not allowed\n');
    return;
  }
  switch (url.pathname) {
    case '/healthz':
      send(res, 200, 'ok\n');
      return;
    case '/readyz':
      if (o.metrics.ready()) send(res, 200, 'ready\n');
      else send(res, 503, 'not ready: no model served yet, or the last sync failed\n');
      return;
    case '/metrics':
      send(res, 200, await o.metrics.registry.metrics(), o.metrics.registry.contentType);
      return;
    default:
      send(res, 404, 'not found; try /healthz, /readyz or /metrics\n');
  }
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const server = createServer((req, res) => {
    handle(req, res, o).catch((err: unknown) => {
      o.log.error({ event: 'server-error', err }, 'metrics endpoint failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // A stuck scraper must not keep the process from shutting down.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) =>
      reject(new ConfigError('metrics-port', `cannot listen on ${o.host}:${o.port}: ${err.code ?? err.message}`, { cause: err }));
    server.once('error', fail);
    server.listen(o.port, o.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info({ event: 'server-listening', host: o.host, port }, `serving /healthz /readyz /metrics on ${o.host}:${port}`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
