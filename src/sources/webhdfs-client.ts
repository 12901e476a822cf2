import type { Readable } from 'node:stream';
import { dump, readJson, readText, type HttpClient, type HttpResponse } from './http-client.js';
import { abortReason, AuthError, isTransientNetworkError, MonitorError, NotFoundError, RemoteError, TransientError } from '../errors.js';
import { withDeadline } from '../deadline.js';
import type { Logger } from '../log.js';
import { CONTENT_KEY_PARAM } from './content-key.js';

/** The fields of a WebHDFS FileStatus object that model-monitor reads. */
export interface HdfsFileStatus {
  readonly pathSuffix: string;
  readonly type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  readonly length: number;
  readonly modificationTime: number;
}

export interface WebHdfsClientOptions {
  /** Namenodes or HttpFS gateways, `http://nn1:9870`, tried in turn. */
  readonly endpoints: readonly string[];
  readonly user?: string;
  /** Delegation token (secret: sent as `delegation=`, never logged). */
  readonly token?: string;
  /** Ask for the datanode URL as JSON (`noredirect=true`) instead of a 307. */
  readonly noRedirect: boolean;
  readonly timeoutMs: number;
  /** Requests go through this (keep-alive agents, the environment's proxy). */
  readonly http: HttpClient;
  readonly log: Logger;
}

/** A `RemoteException` as the server sent it; kept as the `cause` of the MonitorError it maps to. */
export class WebHdfsRemoteException extends Error {
  override readonly name = 'WebHdfsRemoteException';
  constructor(
    readonly status: number,
    readonly exception: string,
    message: string,
  ) {
    super(message);
  }
}

export type RemoteKind = 'not-found' | 'standby' | 'retriable' | 'auth' | 'unsupported' | 'other';

const AUTH_EXCEPTIONS = new Set(['AccessControlException', 'SecurityException', 'AuthorizationException', 'InvalidToken']);

/** WebHDFS error → what to do about it. Exception names first; Hadoop sends every IOException as 403. */
export function classifyRemote(status: number, exception: string): RemoteKind {
  if (exception === 'FileNotFoundException') return 'not-found';
  if (exception === 'StandbyException') return 'standby';
  if (exception === 'RetriableException' || exception === 'SafeModeException') return 'retriable';
  if (AUTH_EXCEPTIONS.has(exception) || status === 401) return 'auth';
  if (status === 400 && (exception === 'IllegalArgumentException' || exception === 'UnsupportedOperationException')) {
    return 'unsupported';
  }
  if (status === 502 || status === 503 || status === 504) return 'retriable';
  if (status === 403 && exception === '') return 'auth';
  return 'other';
}

/** Maps a classified failure of `what` to the shared error set. */
export function remoteToMonitorError(kind: RemoteKind, what: string, cause: WebHdfsRemoteException): MonitorError {
  const detail = cause.exception ? `${cause.exception}: ${cause.message}` : `HTTP ${cause.status}`;
  switch (kind) {
    case 'not-found':
      return new NotFoundError(`${what}: not found`, { cause });
    case 'standby':
    case 'retriable':
      return new TransientError(`${what}: ${detail}`, { cause });
    case 'auth':
      return new AuthError(`${what}: access denied (${detail}); check --hdfs-user / --hdfs-token`, { cause });
    default:
      return new RemoteError(`${what}: ${detail}`, { cause });
  }
}

/** Reads an error body (small) into a WebHdfsRemoteException; tolerates non-JSON bodies from proxies. */
export async function readRemoteException(res: HttpResponse): Promise<WebHdfsRemoteException> {
  return remoteException(res.statusCode, await readText(res.body, 64 * 1024).catch(() => ''));
}

/** An error body's text (the wire path returns it read) as a WebHdfsRemoteException. */
export function remoteException(status: number, text: string): WebHdfsRemoteException {
  try {
    const re = (JSON.parse(text) as { RemoteException?: { exception?: unknown; message?: unknown } }).RemoteException;
    if (re && typeof re.exception === 'string') {
      return new WebHdfsRemoteException(status, re.exception, String(re.message ?? '').slice(0, 500));
    }
  } catch {
    // not JSON: a proxy, a load balancer, or WebHDFS disabled
  }
  return new WebHdfsRemoteException(status, '', text.replace(/\s+/g, ' ').trim().slice(0, 200));
}

/** `/a b/c` → `/a%20b/c`: each segment percent-encoded. */
export function encodeHdfsPath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

const DEMOTE_MS = 60_000;
const NO_CACHE = { 'cache-control': 'no-cache' } as const;

/** A small typed WebHDFS / HttpFS client on node:http: failover, manual redirects, typed errors. */
export class WebHdfsClient {
  private turn = 0;
  private readonly demotedUntil = new Map<string, number>();
  private batchUnsupported = false;

  constructor(private readonly o: WebHdfsClientOptions) {}

  async getFileStatus(path: string, signal: AbortSignal): Promise<HdfsFileStatus | null> {
    try {
      const j = (await this.json(path, 'GETFILESTATUS', {}, signal)) as { FileStatus?: unknown };
      return toStatus(j.FileStatus, path);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  /** One directory level: LISTSTATUS_BATCH pages, or LISTSTATUS where the server lacks it (HttpFS). */
  async *listStatus(path: string, outer: AbortSignal): AsyncIterable<HdfsFileStatus> {
    // Each page (request and JSON body) under its own deadline.
    const page = (op: string, params: Record<string, string>) => withDeadline(outer, this.o.timeoutMs, `${op} ${path}`, (s) => this.json(path, op, params, s));
    let startAfter: string | undefined;
    while (!this.batchUnsupported) {
      const params: Record<string, string> = startAfter === undefined ? {} : { startAfter };
      let batch: { entries: HdfsFileStatus[]; remaining: number };
      try {
        batch = parseBatch(await page('LISTSTATUS_BATCH', params), path);
      } catch (err) {
        if (startAfter !== undefined || !isUnsupported(err)) throw err;
        this.o.log.debug({ event: 'webhdfs-no-batch' }, 'LISTSTATUS_BATCH unsupported, using LISTSTATUS');
        this.batchUnsupported = true;
        break;
      }
      yield* batch.entries;
      const last = batch.entries.at(-1);
      if (batch.remaining <= 0 || !last) return;
      startAfter = last.pathSuffix;
    }
    const j = (await page('LISTSTATUS', {})) as { FileStatuses?: { FileStatus?: unknown } };
    yield* statusArray(j.FileStatuses?.FileStatus, path);
  }

  /**
   * OPEN from `offset` (`length` bytes, or to the end): a 307 or a `noredirect` JSON Location is followed by hand to the
   * datanode; HttpFS answers with the data itself. `signal` also governs the body, so
   * bound the wait for headers with a deadline() and clear it once this resolves.
   * `key` (content-key.ts) goes on the OPEN and on the datanode URL: through a cache tier
   * each file version has its own URL, the same on every replica.
   */
  async open(path: string, offset: number, length: number | undefined, signal: AbortSignal, key?: string): Promise<Readable> {
    const at = await this.locate(path, offset, length, signal, key);
    if ('body' in at) return at.body;
    const location = at.location;
    const what = `OPEN ${path} (datanode)`;
    let dn: HttpResponse;
    try {
      dn = await this.send(this.withUser(location, key), signal);
    } catch (err) {
      throw networkError(err, signal, what);
    }
    if (dn.statusCode === 200) return dn.body;
    const re = await readRemoteException(dn);
    throw remoteToMonitorError(classifyRemote(re.status, re.exception), what, re);
  }

  /**
   * The namenode's answer to an OPEN: the datanode URL to read from (with the user and the content key, as
   * open() sends it), or the data itself (HttpFS).
   */
  async locate(
    path: string,
    offset: number,
    length: number | undefined,
    signal: AbortSignal,
    key?: string,
  ): Promise<{ location: string } | { body: Readable }> {
    const params: Record<string, string> = { offset: String(offset) };
    if (length !== undefined) params.length = String(length);
    if (this.o.noRedirect) params.noredirect = 'true';
    if (key !== undefined) params[CONTENT_KEY_PARAM] = key;
    const res = await this.namenode(path, 'OPEN', params, signal);
    const location = await datanodeLocation(res, path);
    return location === null ? { body: res.body } : { location };
  }

  /** The datanode URL open() reads from, for `location` as the namenode gave it. */
  datanodeUrl(location: string, key: string | undefined): string {
    return this.withUser(location, key);
  }

  private async json(path: string, op: string, params: Record<string, string>, signal: AbortSignal): Promise<unknown> {
    const res = await this.namenode(path, op, params, signal);
    try {
      return await readJson(res.body);
    } catch (err) {
      throw networkError(err, signal, `${op} ${path}`);
    }
  }

  /** One namenode operation. Standby / unreachable endpoints are demoted and the next one is tried. */
  private async namenode(path: string, op: string, params: Record<string, string>, signal: AbortSignal) {
    let last: MonitorError = new TransientError('no WebHDFS endpoint configured');
    for (const ep of this.order()) {
      const r = await this.attempt(ep, path, op, params, signal);
      if (!(r instanceof MonitorError)) return r;
      last = r;
      this.demotedUntil.set(ep, Date.now() + DEMOTE_MS);
      if (signal.aborted) throw last;
      this.o.log.warn({ event: 'webhdfs-failover', endpoint: ep, err: last }, 'namenode unavailable, trying the next');
    }
    throw last;
  }

  /** A response, or the TransientError that says "try the next endpoint"; throws anything else. */
  private async attempt(ep: string, path: string, op: string, params: Record<string, string>, signal: AbortSignal) {
    let res: HttpResponse;
    try {
      res = await this.send(this.url(ep, path, op, params), signal);
    } catch (err) {
      const e = networkError(err, signal, `${op} ${path}`);
      if (e instanceof TransientError) return e;
      throw e;
    }
    if (res.statusCode < 400) {
      this.demotedUntil.delete(ep);
      return res;
    }
    const re = await readRemoteException(res);
    const kind = classifyRemote(re.status, re.exception);
    const e = remoteToMonitorError(kind, `${op} ${path}`, re);
    if (kind === 'standby' || re.status === 503) return e;
    throw e;
  }

  /** Healthy endpoints first, rotated so that reads spread across gateways; demoted ones last. */
  private order(): string[] {
    const now = Date.now();
    const eps = this.o.endpoints;
    const start = this.turn++ % eps.length;
    const rotated = [...eps.slice(start), ...eps.slice(0, start)];
    const healthy = rotated.filter((e) => (this.demotedUntil.get(e) ?? 0) <= now);
    return [...healthy, ...rotated.filter((e) => !healthy.includes(e))];
  }

  private url(ep: string, path: string, op: string, params: Record<string, string>): string {
    const q = new URLSearchParams({ op, ...params });
    if (this.o.user !== undefined) q.set('user.name', this.o.user);
    if (this.o.token !== undefined) q.set('delegation', this.o.token);
    return `${ep}/webhdfs/v1${encodeHdfsPath(path)}?${q.toString()}`;
  }

  /** The namenode signs the datanode URL itself; only a missing `user.name` (never the token) and the content key are added. */
  private withUser(location: string, key: string | undefined): string {
    const u = new URL(location);
    if (this.o.user !== undefined && this.o.token === undefined && !u.searchParams.has('user.name')) {
      u.searchParams.set('user.name', this.o.user);
    }
    if (key !== undefined) u.searchParams.set(CONTENT_KEY_PARAM, key);
    return u.toString();
  }

  /**
   * One GET, redirects not followed; --timeout bounds the wait for the answer and an idle body.
   * no-cache: a shared cache on the way answers only after the origin confirms its copy.
   */
  private send(url: string, signal: AbortSignal): Promise<HttpResponse> {
    return this.o.http.request(new URL(url), { method: 'GET', signal, headers: NO_CACHE });
  }
}

function isUnsupported(err: unknown): boolean {
  const c = err instanceof RemoteError ? err.cause : undefined;
  return c instanceof WebHdfsRemoteException && classifyRemote(c.status, c.exception) === 'unsupported';
}

/** A thrown network/abort error → TransientError (retryable), AbortedError, or RemoteError. */
function networkError(err: unknown, signal: AbortSignal, what: string): MonitorError {
  if (err instanceof MonitorError) return err;
  if (signal.aborted) return abortReason(signal);
  if (isTransientNetworkError(err)) return new TransientError(`${what}: ${(err as Error).message}`, { cause: err });
  return new RemoteError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** The datanode URL of an OPEN answer, or null when the answer is the data itself (HttpFS). */
async function datanodeLocation(res: HttpResponse, path: string): Promise<string | null> {
  let location: unknown = null;
  if (res.statusCode >= 300 && res.statusCode < 400) {
    location = res.headers.location;
    await dump(res.body);
  } else if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
    location = ((await readJson(res.body)) as { Location?: unknown }).Location;
  } else {
    return null;
  }
  if (typeof location !== 'string' || !/^https?:\/\//i.test(location)) {
    throw new RemoteError(`OPEN ${path}: the namenode gave no usable datanode location`);
  }
  return location;
}

function toStatus(raw: unknown, path: string): HdfsFileStatus {
  const s = raw as Partial<Record<keyof HdfsFileStatus, unknown>> | undefined;
  const type = s?.type;
  if (!s || (type !== 'FILE' && type !== 'DIRECTORY' && type !== 'SYMLINK') || typeof s.length !== 'number') {
    throw new RemoteError(`unexpected FileStatus for ${path}`);
  }
  return {
    pathSuffix: typeof s.pathSuffix === 'string' ? s.pathSuffix : '',
    type,
    length: s.length,
    modificationTime: typeof s.modificationTime === 'number' ? s.modificationTime : 0,
  };
}

function statusArray(raw: unknown, path: string): HdfsFileStatus[] {
  if (Array.isArray(raw)) return raw.map((s) => toStatus(s, path));
  throw new RemoteError(`unexpected listing for ${path}`);
}

function parseBatch(raw: unknown, path: string): { entries: HdfsFileStatus[]; remaining: number } {
  const dl = (raw as { DirectoryListing?: { partialListing?: { FileStatuses?: { FileStatus?: unknown } }; remainingEntries?: unknown } }).DirectoryListing;
  const entries = statusArray(dl?.partialListing?.FileStatuses?.FileStatus, path);
  return { entries, remaining: typeof dl?.remainingEntries === 'number' ? dl.remainingEntries : 0 };
}
