/**
 * s3rver on 127.0.0.1 in a child `node --openssl-legacy-provider` (its
 * ListObjectsV2 continuation token is DES-encrypted, which OpenSSL 3 only
 * offers from the legacy provider: in-process every second page fails), with
 * a pass-through proxy in front that can cut one download mid-body, and a
 * tiny server answering real S3 XML errors (s3rver verifies no V4 signature
 * and knows no policies, so SignatureDoesNotMatch/AccessDenied come from it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface S3rverHandle {
  /** The proxy in front of s3rver: give this to sources under test. */
  readonly endpoint: string;
  /** s3rver itself (for the harness's own client). */
  readonly directEndpoint: string;
  readonly bucket: string;
  /** The next GET of `key` is cut (socket destroyed) after `afterBytes` body bytes. */
  dropNextDownload(key: string, afterBytes: number): void;
  close(): Promise<void>;
}

const CHILD = `
const S3rver = require(process.argv[1]);
const s = new S3rver({ address: '127.0.0.1', port: 0, directory: process.argv[2], silent: true,
  configureBuckets: [{ name: process.argv[3] }] });
s.run().then((a) => console.log('S3RVER_READY ' + a.port), (e) => { console.error(e); process.exit(1); });
const stop = () => s.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop); // the test process died: do not outlive it
process.stdin.resume();
`;

async function readyPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    for await (const line of lines) {
      const m = /^S3RVER_READY (\d+)$/.exec(line);
      if (m) return Number(m[1]);
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`s3rver did not start (exit ${child.exitCode}): ${stderr.slice(-2000)}`);
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** Forwards to s3rver; cuts the next GET of an armed key after N body bytes. */
function proxyTo(port: number, drops: Map<string, number>): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const key = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const cut = req.method === 'GET' ? drops.get(key) : undefined;
    if (cut !== undefined) drops.delete(key);
    const up = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (cut === undefined) return void ur.pipe(res);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= cut) return;
        const room = cut - sent;
        res.write(room >= c.length ? c : c.subarray(0, room));
        sent += Math.min(room, c.length);
        if (sent >= cut) {
          ur.destroy();
          res.socket?.destroy();
        }
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
}

export async function startS3rver(bucket = 'models'): Promise<S3rverHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-s3rver-'));
  const modulePath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, modulePath, dir, bucket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let port: number;
  try {
    port = await readyPort(child, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const drops = new Map<string, number>();
  const proxy = proxyTo(port, drops);
  const proxyPort = await listen(proxy);
  return {
    endpoint: `http://127.0.0.1:${proxyPort}`,
    directEndpoint: `http://127.0.0.1:${port}`,
    bucket,
    dropNextDownload(key, afterBytes) {
      drops.set(`/${bucket}/${key}`, afterBytes);
    },
    async close() {
      await closeServer(proxy);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Bulk seeding: many small objects by unsigned REST PUTs (s3rver serves anonymous
 * requests), about twice as fast as SDK PutObject calls on a loaded 2-core box.
 */
export async function seedObjects(srv: S3rverHandle, objects: readonly [key: string, body: string][]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const put = ([key, body]: [string, string]) =>
    new Promise<void>((resolve, reject) => {
      const url = `${srv.directEndpoint}/${srv.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const req = request(url, { method: 'PUT', agent, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    for (let i = 0; i < objects.length; i += 32) await Promise.all(objects.slice(i, i + 32).map(put));
  } finally {
    agent.destroy();
  }
}

export interface S3ErrorServer {
  readonly endpoint: string;
  /** Every request gets this status and S3 error code (HEAD: status only, as S3 does); status 0 = no answer. */
  answer(status: number, code: string): void;
  close(): Promise<void>;
}

/** A real HTTP peer answering every request with an S3 XML error, as AWS does. */
export async function startS3ErrorServer(): Promise<S3ErrorServer> {
  let status = 403;
  let code = 'AccessDenied';
  const server = createServer((req, res) => {
    req.resume();
    if (status === 0) return; // stall: never answer (closeAllConnections() ends it)
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected ${code}</Message>` +
      `<RequestId>4442587FB7D0A2F9</RequestId><HostId>test</HostId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': '4442587FB7D0A2F9' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    answer(s, c) {
      status = s;
      code = c;
    },
    close: () => closeServer(server),
  };
}
