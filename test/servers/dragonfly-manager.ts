/**
 * A recording stand-in for a Dragonfly manager's job API (manager/router:
 * POST /oapi/v1/jobs creates a job, GET /oapi/v1/jobs/:id reads it), on
 * node:http: it records every request (method, path, headers, body) and
 * answers as told. Enough to check what a preheat sends, not a P2P network.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface ManagerStandIn {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Status of the next POST (default 200), and the job states successive GETs report. */
  answer(o: { status?: number; states?: string[]; stall?: boolean }): void;
  close(): Promise<void>;
}

export async function startManagerStandIn(): Promise<ManagerStandIn> {
  const requests: RecordedRequest[] = [];
  let status = 200;
  let states = ['PENDING', 'SUCCESS'];
  let stall = false;
  let id = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (stall) return; // never answered; close() ends it
      const job = (state: string) => JSON.stringify({ id, type: 'preheat', state, created_at: new Date().toISOString() });
      if (req.method === 'POST') {
        id++;
        if (status !== 200) return void res.writeHead(status, { 'content-type': 'application/json' }).end('{"message":"refused"}');
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(job('PENDING'));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(job(states.length > 1 ? states.shift()! : states[0]!));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(o) {
      status = o.status ?? 200;
      states = o.states ?? ['PENDING', 'SUCCESS'];
      stall = o.stall ?? false;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
