/**
 * WebHDFS / HttpFS writes, after the Apache Hadoop WebHDFS REST API on node:http:
 * CREATE in two steps (the namenode answers 307 with a datanode Location, or
 * JSON with noredirect=true; the data goes there), MKDIRS, RENAME with
 * renameoptions=OVERWRITE (HDFS rename2: replaces the target atomically) and
 * DELETE. Standby or unreachable namenodes: the next endpoint is tried.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { abortReason, isTransientNetworkError, MonitorError, RemoteError, TransientError } from '../errors.js';
import { joinRemote, safeRelative } from '../paths.js';
import type { WebHdfsOptions } from '../sources/webhdfs.js';
import { classifyRemote, encodeHdfsPath, readRemoteException, remoteToMonitorError } from '../sources/webhdfs-client.js';
import type { IoOptions } from '../sources/types.js';
import type { PutOptions, Writer, WriterDeps, WriterFactory } from './types.js';

export const webhdfsWriter = {
  kind: 'webhdfs',
  create(opts: WebHdfsOptions, deps: WriterDeps): Writer {
    return new WebHdfsWriter(opts, deps);
  },
} satisfies WriterFactory<WebHdfsOptions>;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: IncomingMessage;
}

async function text(res: IncomingMessage, max = 64 * 1024): Promise<string> {
  let out = '';
  for await (const c of res) {
    out += (c as Buffer).toString('utf8');
    if (out.length > max) break;
  }
  return out;
}

class WebHdfsWriter implements Writer {
  readonly kind = 'webhdfs';
  readonly features = { atomicReplace: true, atomicPut: false } as const;
  readonly displayUrl: string;
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(
    private readonly opts: WebHdfsOptions,
    private readonly deps: WriterDeps,
  ) {
    this.displayUrl = opts.displayUrl;
  }

  private abs(p: string): string {
    return joinRemote(this.opts.root, safeRelative(joinRemote(p).replace(/^\//, '')));
  }

  private url(ep: string, abs: string, op: string, params: Record<string, string>): URL {
    const q = new URLSearchParams({ op, ...params });
    if (this.opts.user !== undefined) q.set('user.name', this.opts.user);
    if (this.opts.token !== undefined) q.set('delegation', this.opts.token);
    return new URL(`${ep}/webhdfs/v1${encodeHdfsPath(abs)}?${q.toString()}`);
  }

  /**
   * One request; the body (if any) is piped in. Resolves on the answer's headers, which must come
   * within --timeout of the request's last byte (a timer of our own: a server trickling its headers
   * defeats the socket's inactivity timeout, as in http-client.ts).
   */
  private send(url: URL, method: string, signal: AbortSignal, body?: { stream: Readable; size: number }): Promise<Answer> {
    const mod = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = body
      ? { 'content-type': 'application/octet-stream', 'content-length': String(body.size) }
      : { 'content-length': '0' };
    const ms = this.deps.timeoutMs;
    return new Promise<Answer>((resolve, reject) => {
      const req = mod.request(url, { method, headers, signal, timeout: ms, agent: url.protocol === 'https:' ? this.agents.https : this.agents.http });
      let answer: NodeJS.Timeout | undefined;
      req.once('finish', () => {
        answer = setTimeout(() => req.destroy(Object.assign(new Error(`no response headers within ${ms} ms`), { code: 'ETIMEDOUT' })), ms).unref();
      });
      req.once('close', () => clearTimeout(answer));
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer for ${ms} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.on('response', (res) => {
        clearTimeout(answer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      if (!body) req.end();
      else pipeline(body.stream, req).catch(reject);
    });
  }

  private async failure(a: Answer, what: string): Promise<MonitorError> {
    const re = await readRemoteException({ statusCode: a.status, headers: a.headers, body: a.body });
    return remoteToMonitorError(classifyRemote(re.status, re.exception), what, re);
  }

  private network(err: unknown, signal: AbortSignal, what: string): MonitorError {
    if (err instanceof MonitorError) return err;
    if (signal.aborted) return abortReason(signal);
    if (isTransientNetworkError(err)) return new TransientError(`${what}: ${(err as Error).message}`, { cause: err });
    return new RemoteError(`${what}: ${(err as Error).message}`, { cause: err });
  }

  /** A namenode operation, endpoint by endpoint while they are standby or unreachable. */
  private async namenode(method: string, abs: string, op: string, params: Record<string, string>, signal: AbortSignal): Promise<Answer> {
    const what = `${op} ${abs}`;
    let last: MonitorError = new TransientError(`${what}: no WebHDFS endpoint`);
    for (const ep of this.opts.endpoints) {
      let a: Answer;
      try {
        a = await this.send(this.url(ep, abs, op, params), method, signal);
      } catch (err) {
        last = this.network(err, signal, what);
        if (last instanceof TransientError && !signal.aborted) continue;
        throw last;
      }
      if (a.status < 400) return a;
      last = await this.failure(a, what);
      if (!(last instanceof TransientError)) throw last;
    }
    throw last;
  }

  /** A JSON `{"boolean": …}` answer (or an empty one, as rename2 gives). */
  private async boolean(a: Answer): Promise<boolean | null> {
    const t = (await text(a.body)).trim();
    if (t === '') return null;
    try {
      const b = (JSON.parse(t) as { boolean?: unknown }).boolean;
      return typeof b === 'boolean' ? b : null;
    } catch {
      return null;
    }
  }

  async put(p: string, body: Readable, o: PutOptions): Promise<void> {
    const abs = this.abs(p);
    const what = `CREATE ${abs}`;
    // overwrite=true: the name is fresh, but a failed earlier attempt may have left part of it.
    const params: Record<string, string> = { overwrite: 'true', ...(this.opts.noRedirect ? { noredirect: 'true' } : {}) };
    const nn = await this.namenode('PUT', abs, 'CREATE', params, o.signal);
    let location: unknown = nn.headers.location;
    if (nn.status === 200 && String(nn.headers['content-type'] ?? '').startsWith('application/json'))
      location = (JSON.parse(await text(nn.body)) as { Location?: unknown }).Location;
    else nn.body.resume();
    if (typeof location !== 'string' || !/^https?:\/\//i.test(location)) throw new RemoteError(`${what}: the namenode gave no datanode location`);
    let dn: Answer;
    try {
      dn = await this.send(new URL(location), 'PUT', o.signal, { stream: body, size: o.size });
    } catch (err) {
      throw this.network(err, o.signal, `${what} (datanode)`);
    }
    if (dn.status !== 201 && dn.status !== 200) throw await this.failure(dn, `${what} (datanode)`);
    dn.body.resume();
  }

  async rename(from: string, to: string, o: IoOptions): Promise<void> {
    const [a, b] = [this.abs(from), this.abs(to)];
    (await this.namenode('PUT', path.posix.dirname(b), 'MKDIRS', {}, o.signal)).body.resume();
    const r = await this.namenode('PUT', a, 'RENAME', { destination: b, renameoptions: 'OVERWRITE' }, o.signal);
    // rename2 answers 200 with no body; a gateway that ignores renameoptions answers {"boolean": false} if `to` exists.
    if ((await this.boolean(r)) === false) throw new RemoteError(`RENAME ${a} to ${b}: refused (the server ignored renameoptions=OVERWRITE?)`);
  }

  async delete(p: string, o: IoOptions): Promise<void> {
    (await this.namenode('DELETE', this.abs(p), 'DELETE', { recursive: 'false' }, o.signal)).body.resume();
  }

  async removeDir(p: string, o: IoOptions): Promise<void> {
    await this.namenode('DELETE', this.abs(p), 'DELETE', { recursive: 'false' }, o.signal).then(
      (a) => void a.body.resume(),
      () => undefined, // not empty, or gone
    );
  }

  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
