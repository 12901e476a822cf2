import { userInfo } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { HttpClient } from './http-client.js';
import { abortReason, ConfigError, isTransientNetworkError, MonitorError, NotFoundError, RemoteError, TransientError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeUrlPart, type Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import { joinRemote, safeRelative } from '../paths.js';
import { deadline, withDeadline } from '../deadline.js';
import type { DownloadOptions, DownloadResult, DownloadTarget, IoOptions, OpenOptions, RemoteEntry, Source, SourceDeps, SourceFactory } from './types.js';
import { ContentKeys } from './content-key.js';
import { parseProxy, proxyOption, resolveProxy, type ProxySetting } from './proxy.js';
import { WebHdfsClient } from './webhdfs-client.js';
import { datanodeGet } from './webhdfs-wire.js';
import { wireGet } from './wire-get.js';

export interface WebHdfsOptions {
  /** `http://nn1:9870`, `https://nn2:9871`: namenodes or HttpFS gateways, in the order given. */
  readonly endpoints: readonly string[];
  /** Absolute HDFS path of the remote root. */
  readonly root: string;
  readonly user?: string;
  readonly token?: string;
  readonly noRedirect: boolean;
  /** Times a dropped datanode connection is resumed (OPEN with offset) inside one open(). */
  readonly maxResumes: number;
  /** The remote, safe to log. */
  readonly displayUrl: string;
  /** --proxy (absent: the environment's). */
  readonly proxy: ProxySetting;
}

export interface WebHdfsUrl {
  readonly secure: boolean;
  readonly hosts: readonly string[];
  readonly root: string;
  readonly user?: string;
}

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;

/**
 * `webhdfs://[user@]nn1:9870,nn2:9870/path` (http) or `swebhdfs://…` (https). A
 * comma list of namenodes / HttpFS gateways, each with its own port (default 9870,
 * 9871 for swebhdfs). WHATWG `new URL()` rejects that authority, hence this parser.
 */
export function parseWebHdfsUrl(raw: string): WebHdfsUrl {
  const m = /^(s?webhdfs):\/\/(?:([^@/?#]*)@)?([^/?#]*)([^?#]*)$/i.exec(raw.trim());
  if (!m) throw new ConfigError('remote', `not a webhdfs:// or swebhdfs:// URL without query or fragment: ${raw}`);
  const secure = m[1]!.toLowerCase() === 'swebhdfs';
  const hosts = m[3]!.split(',').map((h) => hostPort(h, secure ? 9871 : 9870));
  const root = joinRemote('/', ...m[4]!.split('/').map((s) => decodeUrlPart('remote', s)));
  const user = m[2] ? decodeUrlPart('remote', m[2].split(':')[0]!) : undefined;
  return { secure, hosts, root, ...(user ? { user } : {}) };
}

function hostPort(hp: string, defaultPort: number): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hp.trim());
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || !HOST.test(m[1]!) || port < 1 || port > 65535) {
    throw new ConfigError('remote', `bad namenode address ${JSON.stringify(hp)} (want host:port)`);
  }
  return `${m[1]!.toLowerCase()}:${port}`;
}

function defaultUser(): string | undefined {
  if (process.env.HADOOP_USER_NAME) return process.env.HADOOP_USER_NAME;
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function noSpaces(v: string): string | null {
  return /[\s\0]/.test(v) ? 'must not contain spaces or control characters' : null;
}

function delegationToken(v: string): string | null {
  return /^[A-Za-z0-9_-]+$/.test(v) ? null : 'a delegation token is URL-safe base64 (letters, digits, - and _)';
}

// An option table reads one flag per line.
// prettier-ignore
const options = [
  { name: 'hdfs-user', kind: 'string', metavar: 'NAME', group: 'WebHDFS', check: noSpaces, help: 'HDFS user (user.name=); default $HADOOP_USER_NAME, else the OS user; not sent with a token unless given' },
  { name: 'hdfs-token', kind: 'string', metavar: 'TOKEN', group: 'WebHDFS', secret: true, check: delegationToken, help: 'Hadoop delegation token (delegation=)' },
  { name: 'hdfs-namenodes', kind: 'list', metavar: 'HOST:PORT', group: 'WebHDFS', help: 'more namenodes / HttpFS gateways besides the one in --remote (failover, spread reads)' },
  { name: 'hdfs-noredirect', kind: 'bool', default: false, group: 'WebHDFS', help: 'ask for the datanode URL as JSON (noredirect=true) instead of a 307, for proxies that mangle redirects' },
  proxyOption,
] as const satisfies readonly OptionSpec[];

/** HDFS over WebHDFS (namenode + datanodes) or HttpFS, over node:http (http-client.ts). --remote only (Paddle's hdfs is the Hadoop CLI). */
export const webhdfs = {
  kind: 'webhdfs',
  schemes: ['webhdfs', 'swebhdfs'],
  options,
  parse(_remote: URL, v: Values<typeof options>, text: string): WebHdfsOptions {
    const u = parseWebHdfsUrl(text);
    const extra = v.hdfsNamenodes.flatMap((s) => s.split(',')).filter((s) => s.trim() !== '');
    const hosts = [...new Set([...u.hosts, ...extra.map((h) => hostPort(h, u.secure ? 9871 : 9870))])];
    const token = v.hdfsToken ?? undefined;
    const user = v.hdfsUser ?? u.user ?? (token === undefined ? defaultUser() : undefined);
    const scheme = u.secure ? 'https' : 'http';
    return {
      endpoints: hosts.map((h) => `${scheme}://${h}`),
      root: u.root,
      ...(user !== undefined ? { user } : {}),
      ...(token !== undefined ? { token } : {}),
      noRedirect: v.hdfsNoredirect,
      maxResumes: 5,
      displayUrl: `${u.secure ? 'swebhdfs' : 'webhdfs'}://${hosts.join(',')}${u.root}`,
      proxy: parseProxy(v.proxy),
    };
  },
  proxy: (opts: WebHdfsOptions) => resolveProxy(opts.proxy, opts.endpoints[0] ?? ''),
  create(opts: WebHdfsOptions, deps: SourceDeps): Source {
    return new WebHdfsSource(opts, deps);
  },
} satisfies SourceFactory<WebHdfsOptions, typeof options>;

class WebHdfsSource implements Source {
  readonly kind = 'webhdfs';
  readonly features = { md5: false, etag: false, ranges: true, mtimeResolutionMs: 1 } as const;
  readonly displayUrl: string;
  private readonly http: HttpClient;
  private readonly client: WebHdfsClient;
  private readonly log: Logger;
  /** Version keys for data reads through a cache tier (content-key.ts). */
  private readonly keys: ContentKeys;
  /** An OPEN was answered with the data itself (HttpFS): no datanode to read from on the wire path. */
  private httpfs = false;

  constructor(
    private readonly opts: WebHdfsOptions,
    private readonly deps: SourceDeps,
  ) {
    this.displayUrl = opts.displayUrl;
    this.log = deps.log;
    // --proxy, else HTTP(S)_PROXY / NO_PROXY: http:// goes to the proxy in absolute form, as curl sends it.
    this.http = new HttpClient({ timeoutMs: deps.timeoutMs, maxSockets: Math.max(4, deps.concurrency * 2), proxy: opts.proxy });
    this.keys = new ContentKeys(webhdfs.proxy(opts) !== null);
    this.client = new WebHdfsClient({ ...opts, timeoutMs: deps.timeoutMs, http: this.http, log: this.log });
  }

  private abs(p: string): string {
    const rel = joinRemote(p).replace(/^\//, '');
    return rel === '' ? this.opts.root : joinRemote(this.opts.root, safeRelative(rel));
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const path = this.abs(p);
    const s = await withDeadline(o.signal, this.deps.timeoutMs, `GETFILESTATUS ${path}`, (signal) => this.client.getFileStatus(path, signal));
    if (!s) return null;
    const isDirectory = s.type === 'DIRECTORY';
    const e = { path: p, size: isDirectory ? 0 : s.length, mtimeMs: s.modificationTime, isDirectory };
    this.keys.note(p, e);
    return e;
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const top = this.abs(dir);
    const pending: string[] = [''];
    this.keys.reset();
    for (let rel = pending.shift(); rel !== undefined; rel = pending.shift()) {
      const base = rel === '' ? top : joinRemote(top, rel);
      for await (const s of this.client.listStatus(base, o.signal)) {
        if (s.pathSuffix === '') throw new RemoteError(`not a directory: ${this.displayUrl}/${dir}`);
        const child = safeRelative(rel === '' ? s.pathSuffix : `${rel}/${s.pathSuffix}`);
        if (s.type === 'DIRECTORY') pending.push(child);
        else if (s.type === 'FILE') {
          const e = { path: child, size: s.length, mtimeMs: s.modificationTime };
          this.keys.note(joinRemote(dir, child), e);
          yield e;
        } else this.log.debug({ event: 'skip-symlink' }, 'skipping a symlink in the listing');
      }
    }
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    const path = this.abs(p);
    const start = o.start ?? 0;
    const end = o.length !== undefined ? start + o.length : undefined;
    const key = this.keys.get(p);
    const first = await this.openAt(path, start, end, o.signal, key);
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    void this.pump(path, first, start, end, o.signal, out, key);
    return out;
  }

  /**
   * The wire path (src/wire/): the namenode's OPEN on the stock client, the datanode read after its 307 on
   * the engine (plain http, no proxy). HttpFS answers the OPEN with the data itself: null (open()) from then on.
   */
  async download(p: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null> {
    const wire = this.deps.wire;
    if (!wire || this.httpfs || webhdfs.proxy(this.opts) !== null) return null;
    const path = this.abs(p);
    const key = this.keys.get(p);
    const at = await this.located(path, t.position, t.part ? t.length : undefined, o.signal, key);
    if ('body' in at) {
      at.body.destroy();
      this.httpfs = true;
      return null;
    }
    const url = new URL(this.client.datanodeUrl(at.location, key));
    if (url.protocol !== 'http:' || resolveProxy(this.opts.proxy, url.href) !== null) return null;
    return wireGet(wire, datanodeGet(url, `OPEN ${path} (datanode)`), t, o);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  /** The namenode's OPEN under the per-request deadline, as openAt() makes it. */
  private async located(path: string, offset: number, length: number | undefined, signal: AbortSignal, key: string | undefined) {
    const d = deadline(signal, this.deps.timeoutMs, `OPEN ${path}`);
    try {
      return await this.client.locate(path, offset, length, d.signal, key);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`no such file: ${this.displayUrl}${path.slice(this.opts.root.length)}`, { cause: err });
      throw err;
    } finally {
      d.clear();
    }
  }

  /** One OPEN; the timeout bounds the wait for headers (namenode and datanode), the body has its idle timeout. */
  private async openAt(path: string, offset: number, end: number | undefined, signal: AbortSignal, key: string | undefined): Promise<Readable> {
    const d = deadline(signal, this.deps.timeoutMs, `OPEN ${path}`);
    try {
      return await this.client.open(path, offset, end !== undefined ? end - offset : undefined, d.signal, key);
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`no such file: ${this.displayUrl}${path.slice(this.opts.root.length)}`, { cause: err });
      throw err;
    } finally {
      d.clear();
    }
  }

  /**
   * The bytes of `path` from `start` (up to `end`) into `out`: a connection dropped
   * mid-file is resumed with OPEN offset = bytes delivered so far, up to maxResumes
   * times. Chunks are forwarded as they come (no `for await`, which would concatenate
   * whatever had queued); a reader that goes away stops it.
   */
  private async pump(
    path: string,
    first: Readable,
    start: number,
    end: number | undefined,
    signal: AbortSignal,
    out: PassThrough,
    key: string | undefined,
  ): Promise<void> {
    let offset = start;
    let body: Readable | null = first;
    for (let resumes = 0, progressAt = start; ; resumes++) {
      try {
        // a resume that got no byte further waits a little before the next OPEN
        if (body === null && offset === progressAt) await setTimeout(Math.min(25 * 2 ** resumes, 500), undefined, { signal });
        progressAt = offset;
        body ??= await this.openAt(path, offset, end, signal, key);
        if (out.destroyed) throw new Error('the reader closed the stream');
        await forward(body, out, (n) => (offset += n));
        out.end();
        return;
      } catch (err) {
        body?.destroy();
        body = null;
        if (out.destroyed) return; // the reader is gone (done, failed or aborted): nothing to deliver
        const fail = (e: Error) => void out.destroy(e);
        if (signal.aborted) return fail(abortReason(signal));
        if (err instanceof MonitorError && !err.retryable) return fail(err);
        if (!resumable(err)) return fail(new RemoteError(`${this.displayUrl}: reading ${path} failed`, { cause: err }));
        if (resumes >= this.opts.maxResumes) {
          return fail(new TransientError(`${this.displayUrl}: download of ${path} dropped ${resumes + 1} times`, { cause: err }));
        }
        this.log.warn({ event: 'resume', offset, attempt: resumes + 1, err }, 'datanode connection dropped, resuming');
      }
    }
  }
}

/** Writes `body` into `out` with backpressure, leaving `out` open; resolves at the body's end. */
function forward(body: Readable, out: PassThrough, onBytes: (n: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      onBytes(c.length);
      if (!out.write(c)) body.pause();
    };
    const onDrain = () => body.resume();
    const onClose = () => finish(new Error('the reader closed the stream'));
    const finish = (err?: Error) => {
      body.off('data', onData).off('end', onEnd).off('error', onError);
      out.off('drain', onDrain).off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(err);
    body.on('data', onData).once('end', onEnd).once('error', onError);
    out.on('drain', onDrain).once('close', onClose);
  });
}

/** A body read error worth another OPEN: our own transient errors, socket errors (resets, timeouts, a body cut short). */
function resumable(err: unknown): boolean {
  if (err instanceof MonitorError) return err.retryable;
  return isTransientNetworkError(err);
}
