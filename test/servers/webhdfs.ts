/**
 * A WebHDFS server for tests, after the Apache Hadoop WebHDFS REST API: a namenode
 * port and a datanode port over a local directory. GETFILESTATUS, LISTSTATUS,
 * LISTSTATUS_BATCH and OPEN (307 to the datanode, `noredirect=true` JSON, or HttpFS
 * mode streaming directly), and the writes publish uses (webhdfs-write.ts: CREATE
 * in two steps, MKDIRS, RENAME with renameoptions, DELETE); RemoteException bodies with Hadoop's status codes
 * (ExceptionHandler: FileNotFound 404, other IOExceptions such as Standby and
 * AccessControl 403, SecurityException 401, IllegalArgument 400). Fault knobs are
 * public fields; counters let tests prove what went over the wire.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createOnDatanode, writeOp } from './webhdfs-write.js';

export interface WebHdfsServerOptions {
  readonly root: string;
  /** `namenode`: OPEN answers 307 to the datanode port; `httpfs`: OPEN streams the data, no LISTSTATUS_BATCH. */
  readonly mode?: 'namenode' | 'httpfs';
  /** LISTSTATUS_BATCH page size (default 1000); 0 = the op is unknown (400 IllegalArgumentException). */
  readonly batchSize?: number;
  /** A delegation token every namenode request must carry (401 without, 403 InvalidToken if wrong). */
  readonly token?: string;
}

export interface LoggedRequest {
  readonly server: 'nn' | 'dn';
  readonly op: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
}

export type Json = Record<string, unknown>;

const EXC: Record<string, [number, string]> = {
  FileNotFoundException: [404, 'java.io.FileNotFoundException'],
  StandbyException: [403, 'org.apache.hadoop.ipc.StandbyException'],
  AccessControlException: [403, 'org.apache.hadoop.security.AccessControlException'],
  InvalidToken: [403, 'org.apache.hadoop.security.token.SecretManager$InvalidToken'],
  SecurityException: [401, 'java.lang.SecurityException'],
  IllegalArgumentException: [400, 'java.lang.IllegalArgumentException'],
  RetriableException: [403, 'org.apache.hadoop.ipc.RetriableException'],
  FileAlreadyExistsException: [403, 'org.apache.hadoop.fs.FileAlreadyExistsException'],
  PathIsNotEmptyDirectoryException: [403, 'org.apache.hadoop.fs.PathIsNotEmptyDirectoryException'],
};

export class WebHdfsTestServer {
  /** Every namenode op answers 403 StandbyException. */
  standby = false;
  /** Probability that a namenode op answers StandbyException. */
  standbyProbability = 0;
  /** Datanode (or HttpFS) data rate limit, bytes/s; 0 = unlimited. */
  throttleBytesPerSec = 0;
  /** HDFS paths (`/m/a.bin`) that answer 403 AccessControlException. */
  readonly denied = new Set<string>();
  readonly requests: LoggedRequest[] = [];
  /** Bytes of file data written by OPEN responses (datanode, or HttpFS). */
  dataBytes = 0;
  private readonly drops = new Map<string, number[]>();

  private constructor(
    readonly o: WebHdfsServerOptions,
    private readonly nn: Server,
    private readonly dn: Server,
  ) {}

  static async start(o: WebHdfsServerOptions): Promise<WebHdfsTestServer> {
    const handlers: { nn?: (q: IncomingMessage, r: ServerResponse) => void; dn?: typeof handlers.nn } = {};
    const nn = createServer((q, r) => handlers.nn?.(q, r));
    const dn = createServer((q, r) => handlers.dn?.(q, r));
    await Promise.all([nn, dn].map((s) => new Promise<void>((res) => s.listen(0, '127.0.0.1', res))));
    const s = new WebHdfsTestServer(o, nn, dn);
    handlers.nn = (q, r) => void s.namenode(q, r).catch((e: unknown) => r.destroy(e as Error));
    handlers.dn = (q, r) => void s.datanode(q, r).catch((e: unknown) => r.destroy(e as Error));
    return s;
  }

  get nnPort(): number {
    return (this.nn.address() as AddressInfo).port;
  }
  get dnPort(): number {
    return (this.dn.address() as AddressInfo).port;
  }
  /** `webhdfs://127.0.0.1:<nnPort>` */
  get url(): string {
    return `webhdfs://127.0.0.1:${this.nnPort}`;
  }

  /** The next data responses for `hdfsPath` are cut (connection destroyed) after these byte counts, one each. */
  dropNext(hdfsPath: string, ...afterBytes: number[]): void {
    this.drops.set(hdfsPath, afterBytes);
  }

  count(server: 'nn' | 'dn', op?: string): number {
    return this.requests.filter((r) => r.server === server && (op === undefined || r.op === op)).length;
  }

  async close(): Promise<void> {
    for (const s of [this.nn, this.dn]) s.closeAllConnections();
    await Promise.all([this.nn, this.dn].map((s) => new Promise((res) => s.close(res))));
  }

  private parse(q: IncomingMessage, server: 'nn' | 'dn'): LoggedRequest & { local: string } {
    const u = new URL(q.url ?? '/', 'http://x');
    const raw = u.pathname.startsWith('/webhdfs/v1') ? u.pathname.slice('/webhdfs/v1'.length) : '';
    const hdfs = '/' + raw.split('/').filter(Boolean).map(decodeURIComponent).join('/');
    const params = Object.fromEntries(u.searchParams);
    const entry = { server, op: (params.op ?? '').toUpperCase(), path: hdfs, params };
    this.requests.push(entry);
    const parts = hdfs.split('/').filter(Boolean);
    if (parts.includes('..')) throw new Error('.. in path');
    return { ...entry, local: path.join(this.o.root, ...parts) };
  }

  private async namenode(q: IncomingMessage, r: ServerResponse): Promise<void> {
    const req = this.parse(q, 'nn');
    if (!q.url?.startsWith('/webhdfs/v1/')) return send(r, 404, { error: 'not webhdfs' });
    if (this.standby || Math.random() < this.standbyProbability) {
      return fail(r, 'StandbyException', 'Operation category READ is not supported in state standby. Visit https://s.apache.org/sbnn-error');
    }
    if (this.o.token !== undefined && req.params.delegation === undefined) {
      r.writeHead(401, { 'content-type': 'text/html' }).end('<html><body>Authentication required</body></html>');
      return;
    }
    if (this.o.token !== undefined && req.params.delegation !== this.o.token) {
      return fail(r, 'InvalidToken', "token (HDFS_DELEGATION_TOKEN token 7 for alice) can't be found in cache");
    }
    if (this.denied.has(req.path)) {
      const user = req.params['user.name'] ?? 'dr.who';
      return fail(r, 'AccessControlException', `Permission denied: user=${user}, access=READ, inode="${req.path}":hdfs:supergroup:-rw-------`);
    }
    if (q.method === 'PUT' || q.method === 'DELETE') return writeOp(q, r, req, { root: this.o.root, dnPort: this.dnPort, nnPort: this.nnPort });
    const st = await stat(req.local).catch(() => null);
    const batch = this.o.mode !== 'httpfs' && this.o.batchSize !== 0;
    switch (req.op) {
      case 'GETFILESTATUS':
        if (!st) return fail(r, 'FileNotFoundException', `File does not exist: ${req.path}`);
        return send(r, 200, { FileStatus: fileStatus('', st) });
      case 'LISTSTATUS':
        if (!st) return fail(r, 'FileNotFoundException', `File ${req.path} does not exist.`);
        return send(r, 200, { FileStatuses: { FileStatus: await this.listing(req.local, st) } });
      case 'LISTSTATUS_BATCH':
        if (batch) return this.batch(r, req.local, req.params.startAfter, req.path);
        break;
      case 'OPEN':
        if (!st || st.isDirectory()) return fail(r, 'FileNotFoundException', `File does not exist: ${req.path}`);
        if (this.o.mode === 'httpfs') return this.serveData(r, req.path, req.local, req.params);
        return this.redirect(r, req);
    }
    fail(
      r,
      'IllegalArgumentException',
      `Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.${req.op}`,
    );
  }

  private async batch(r: ServerResponse, local: string, startAfter: string | undefined, hdfs: string): Promise<void> {
    const st = await stat(local).catch(() => null);
    if (!st) return fail(r, 'FileNotFoundException', `File ${hdfs} does not exist.`);
    const all = await this.listing(local, st);
    const from = startAfter === undefined ? 0 : all.findIndex((e) => byteCmp(String(e.pathSuffix), startAfter) > 0);
    const rest = from < 0 ? [] : all.slice(from);
    const page = rest.slice(0, this.o.batchSize ?? 1000);
    const listing = { partialListing: { FileStatuses: { FileStatus: page } }, remainingEntries: rest.length - page.length };
    send(r, 200, { DirectoryListing: listing });
  }

  private async listing(local: string, st: Awaited<ReturnType<typeof stat>>): Promise<Json[]> {
    if (!st.isDirectory()) return [fileStatus('', st)];
    const names = (await readdir(local)).sort(byteCmp);
    return Promise.all(names.map(async (n) => fileStatus(n, await stat(path.join(local, n)))));
  }

  private redirect(r: ServerResponse, req: LoggedRequest): void {
    const q = new URLSearchParams({ op: 'OPEN', namenoderpcaddress: '127.0.0.1:8020', offset: req.params.offset ?? '0' });
    for (const k of ['length', 'user.name', 'delegation']) if (req.params[k] !== undefined) q.set(k, req.params[k]);
    const enc = req.path.split('/').map(encodeURIComponent).join('/');
    const location = `http://127.0.0.1:${this.dnPort}/webhdfs/v1${enc}?${q.toString()}`;
    if (req.params.noredirect === 'true') return send(r, 200, { Location: location });
    r.writeHead(307, { location, 'content-type': 'application/octet-stream', 'content-length': '0' }).end();
  }

  private async datanode(q: IncomingMessage, r: ServerResponse): Promise<void> {
    const req = this.parse(q, 'dn');
    if (req.op === 'CREATE' && q.method === 'PUT') return createOnDatanode(q, r, req, this.nnPort);
    if (req.op !== 'OPEN') return fail(r, 'IllegalArgumentException', `Invalid operation ${req.op}`);
    const st = await stat(req.local).catch(() => null);
    if (!st || st.isDirectory()) return fail(r, 'FileNotFoundException', `File does not exist: ${req.path}`);
    return this.serveData(r, req.path, req.local, req.params);
  }

  /** File bytes from `offset` (`length` optional), with drops and throttling applied, counted in dataBytes. */
  private async serveData(r: ServerResponse, hdfs: string, local: string, params: Record<string, string>): Promise<void> {
    const size = (await stat(local)).size;
    const offset = Number(params.offset ?? 0);
    if (!(offset >= 0 && offset <= size)) return fail(r, 'IllegalArgumentException', `Offset=${offset} out of the range [0, ${size}]`);
    const length = Math.min(size - offset, params.length === undefined ? Infinity : Number(params.length));
    r.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length) });
    const drop = this.drops.get(hdfs)?.shift();
    if (this.drops.get(hdfs)?.length === 0) this.drops.delete(hdfs);
    let left = drop === undefined ? length : Math.min(drop, length);
    if (left === 0 && drop === undefined) return void r.end();
    const input = createReadStream(local, { start: offset, end: offset + left - 1, highWaterMark: 64 * 1024 });
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (r.destroyed) break;
      left -= chunk.length;
      this.dataBytes += chunk.length;
      r.write(chunk);
      if (this.throttleBytesPerSec > 0) await delay((chunk.length / this.throttleBytesPerSec) * 1000);
      if (r.writableNeedDrain && !r.destroyed) await drainOrClose(r);
    }
    input.destroy();
    if (drop === undefined) return void r.end();
    await new Promise<void>((res) => r.write(Buffer.alloc(0), () => res()));
    r.destroy();
  }
}

function byteCmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Waits for 'drain' or 'close', whichever comes first, leaving no listener behind. */
function drainOrClose(r: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      r.off('drain', done).off('close', done);
      resolve();
    };
    r.once('drain', done).once('close', done);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

function fileStatus(suffix: string, st: Awaited<ReturnType<typeof stat>>): Json {
  const dir = st.isDirectory();
  return {
    accessTime: Math.floor(Number(st.atimeMs)),
    blockSize: dir ? 0 : 134217728,
    childrenNum: dir ? 1 : 0,
    fileId: Number(st.ino),
    group: 'supergroup',
    length: dir ? 0 : Number(st.size),
    modificationTime: Math.floor(Number(st.mtimeMs)),
    owner: 'hdfs',
    pathSuffix: suffix,
    permission: (Number(st.mode) & 0o777).toString(8),
    replication: dir ? 0 : 3,
    storagePolicy: 0,
    type: dir ? 'DIRECTORY' : 'FILE',
  };
}

export function send(r: ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  r.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export function fail(r: ServerResponse, exception: keyof typeof EXC, message: string): void {
  const [status, javaClassName] = EXC[exception]!;
  send(r, status, { RemoteException: { exception, javaClassName, message } });
}
