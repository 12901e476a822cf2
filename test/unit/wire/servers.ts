/**
 * Servers for the wire engine's tests, on 127.0.0.1: node's http server
 * serving one buffer (with Range), and a raw net server whose every
 * connection runs a script of our own (drops, stalls, lies, split heads).
 */
import { once } from 'node:events';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createNet, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

async function listen(server: Server | ReturnType<typeof createNet>, sockets: Set<Socket>): Promise<TestServer> {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    t.connections++;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const t: TestServer = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  return t;
}

/** node:http serving `files` (path → bytes) with Range (206), 404 for the rest; `status` forces an answer for a path. */
export async function httpServer(files: Map<string, Buffer>, status = new Map<string, number>()): Promise<TestServer> {
  const server = createHttp((req, res) => {
    const forced = status.get(req.url ?? '');
    const data = files.get(req.url ?? '');
    if (forced || !data) {
      res.writeHead(forced ?? 404, { 'content-type': 'text/plain' });
      return res.end(`no luck with ${req.url}: ${forced ?? 404}`);
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'content-length': data.length, etag: '"v1"' });
      return res.end(data);
    }
    const start = Number(m[1]);
    const end = m[2] ? Number(m[2]) : data.length - 1;
    res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${data.length}`, etag: '"v1"' });
    res.end(data.subarray(start, end + 1));
  });
  return listen(server, new Set());
}

/** A raw TCP server: `script` runs per connection with the first bytes the client sent (or none, for 'raw' jobs). */
export async function netServer(script: (s: Socket, request: string) => void, waitForRequest = true): Promise<TestServer> {
  const server = createNet((s) => {
    s.on('error', () => {});
    if (!waitForRequest) return script(s, '');
    let got = '';
    const onData = (b: Buffer) => {
      got += b.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      s.off('data', onData);
      script(s, got);
    };
    s.on('data', onData);
  });
  return listen(server, new Set());
}

/** An HTTP request for `path` as the sources send it. */
export function get(path: string, range?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: model-monitor\r\nAccept-Encoding: identity\r\n${range ? `Range: ${range}\r\n` : ''}\r\n`;
}
