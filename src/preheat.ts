/**
 * Preheat: ask the fleet's cache tier to hold a new version before the
 * replicas poll, so that the first replica's pull is not the one that waits
 * for the origin. Two kinds of target, told apart by the URL:
 *
 * - a Dragonfly manager's job API (`http://manager:8080/oapi/v1/jobs`, or
 *   `/api/v1/jobs`): one POST of a `preheat` job of type `file` listing the
 *   URLs; the manager's seed peers download them into the P2P network. The
 *   URLs must be the ones replicas request (with their `mmkey`, see
 *   content-key.ts), or the replicas' task ids differ from the preheated ones.
 *   Optionally polls the job (GET …/jobs/ID) until SUCCESS or FAILURE.
 * - a caching proxy (`http://squid:3128`, no path): a GET of each URL through
 *   it with `Cache-Control: no-cache` (it revalidates and stores the current
 *   bytes), bodies read and dropped.
 *
 * The whole preheat runs under one deadline held by a strong timer
 * (deadline.ts: no AbortSignal.timeout inside AbortSignal.any); errors are MonitorErrors:
 * refused credentials AuthError, 429 / 5xx / network / deadline
 * TransientError, anything else RemoteError.
 */
import { DeadlineError, withDeadline } from './deadline.js';
import { abortReason, AuthError, ConfigError, MonitorError, RemoteError, TransientError } from './errors.js';
import type { Logger } from './log.js';
import { redactUrl } from './options.js';
import { dump, HttpClient, readText, type HttpResponse } from './sources/http-client.js';

export type PreheatTarget = { readonly kind: 'dragonfly'; readonly jobs: URL } | { readonly kind: 'cache'; readonly proxy: string };

/** --preheat-url → a target; ConfigError naming the flag. */
export function parsePreheatTarget(raw: string): PreheatTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (err) {
    throw new ConfigError('preheat-url', `not a URL: "${redactUrl(raw)}"`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('preheat-url', `must be http:// or https://, got ${u.protocol}`);
  if (u.username || u.password) throw new ConfigError('preheat-url', 'must not hold credentials (use --preheat-token)');
  if (/\/(o?api)\/v1\/jobs\/?$/.test(u.pathname)) return { kind: 'dragonfly', jobs: new URL(u.href.replace(/\/$/, '')) };
  if (u.pathname === '/' && !u.search) return { kind: 'cache', proxy: u.origin };
  throw new ConfigError('preheat-url', "want a Dragonfly manager's job API (http://manager:8080/oapi/v1/jobs) or a caching proxy (http://squid:3128)");
}

export interface PreheatOptions {
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** The whole preheat (every request, and the wait for the job) ends within this. */
  readonly deadlineMs: number;
  /** Dragonfly: a personal access token (Authorization: Bearer). */
  readonly token?: string;
  /** Dragonfly: also wait for the job to end (SUCCESS or FAILURE) within the deadline. */
  readonly wait?: boolean;
  /** Cache: GETs at once. */
  readonly concurrency?: number;
}

export interface PreheatResult {
  readonly kind: PreheatTarget['kind'];
  readonly urls: number;
  /** Dragonfly: the job's id and its last known state. */
  readonly jobId?: number;
  readonly state?: string;
  /** Cache: body bytes the proxy sent. */
  readonly bytes?: number;
}

/** The body of a Dragonfly `preheat` job for files (manager/types/job.go CreatePreheatJobRequest). */
export function dragonflyJobBody(urls: readonly string[]): { type: 'preheat'; args: { type: 'file'; urls: string[]; scope: string } } {
  return { type: 'preheat', args: { type: 'file', urls: [...urls], scope: 'single_seed_peer' } };
}

function statusError(status: number, what: string, body: string): MonitorError {
  const detail = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  const msg = `${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`;
  if (status === 401 || status === 403) return new AuthError(`${msg}; check --preheat-token`);
  if (status === 408 || status === 429 || status >= 500) return new TransientError(msg);
  return new RemoteError(msg);
}

function networkError(err: unknown, signal: AbortSignal, what: string): MonitorError {
  // The deadline's DeadlineError becomes a TransientError ("preheat timed out after 600 s").
  if (signal.aborted && (signal.reason instanceof MonitorError || signal.reason instanceof DeadlineError)) return abortReason(signal);
  if (err instanceof MonitorError) return err;
  return new TransientError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Sends the preheat for `urls` to `target`. */
export async function preheat(target: PreheatTarget, urls: readonly string[], o: PreheatOptions): Promise<PreheatResult> {
  if (urls.length === 0) throw new ConfigError('preheat-url', 'nothing to preheat: no file URLs');
  return withDeadline(o.signal, o.deadlineMs, 'preheat', (signal) =>
    target.kind === 'dragonfly' ? dragonfly(target.jobs, urls, o, signal) : warm(target.proxy, urls, o, signal),
  );
}

/** One JSON exchange with the manager (fetch: a one-shot command, no proxy, no stream). */
async function managerCall(url: URL, init: RequestInit, signal: AbortSignal): Promise<{ id?: unknown; state?: unknown }> {
  const what = `${init.method ?? 'GET'} ${url.pathname}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal, redirect: 'manual' });
    text = (await res.text()).slice(0, 1024 * 1024);
  } catch (err) {
    throw networkError(err, signal, what);
  }
  if (res.status < 200 || res.status > 299) throw statusError(res.status, what, text);
  try {
    return JSON.parse(text) as { id?: unknown; state?: unknown };
  } catch (err) {
    throw new RemoteError(`${what}: the answer is not JSON; is this a Dragonfly manager?`, { cause: err });
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => (clearTimeout(t), reject(networkError(signal.reason, signal, 'waiting for the preheat job')));
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function dragonfly(jobs: URL, urls: readonly string[], o: PreheatOptions, signal: AbortSignal): Promise<PreheatResult> {
  const auth: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const body = JSON.stringify(dragonflyJobBody(urls));
  const job = await managerCall(jobs, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...auth }, body }, signal);
  const id = typeof job.id === 'number' ? job.id : undefined;
  let state = typeof job.state === 'string' ? job.state : 'PENDING';
  o.log.info({ event: 'preheat-job', jobId: id, state, urls: urls.length }, `Dragonfly preheat job ${id ?? '?'} created for ${urls.length} files`);
  if (!o.wait || id === undefined) return { kind: 'dragonfly', urls: urls.length, ...(id !== undefined ? { jobId: id } : {}), state };
  for (let ms = 250; state !== 'SUCCESS'; ms = Math.min(ms * 2, 5_000)) {
    if (state === 'FAILURE') throw new RemoteError(`Dragonfly preheat job ${id} failed (see the manager's job ${id})`);
    await pause(ms, signal);
    const j = await managerCall(new URL(`${jobs.href}/${id}`), { headers: { accept: 'application/json', ...auth } }, signal);
    state = typeof j.state === 'string' ? j.state : state;
  }
  o.log.info({ event: 'preheat-done', jobId: id }, `Dragonfly preheat job ${id} succeeded`);
  return { kind: 'dragonfly', urls: urls.length, jobId: id, state };
}

/** GETs every URL through the caching proxy, `concurrency` at a time, dropping the bodies. */
async function warm(proxy: string, urls: readonly string[], o: PreheatOptions, signal: AbortSignal): Promise<PreheatResult> {
  const n = Math.min(urls.length, Math.max(1, o.concurrency ?? 4));
  const http = new HttpClient({ timeoutMs: o.deadlineMs, maxSockets: n, proxy });
  let bytes = 0;
  let next = 0;
  const one = async (raw: string) => {
    const url = new URL(raw);
    const what = `GET ${url.pathname} via the cache`;
    let res: HttpResponse;
    try {
      res = await http.request(url, { signal, headers: { 'cache-control': 'no-cache', 'accept-encoding': 'identity', 'user-agent': 'model-monitor' } });
    } catch (err) {
      throw networkError(err, signal, what);
    }
    if (res.statusCode !== 200) throw statusError(res.statusCode, what, await readText(res.body, 4096).catch(() => ''));
    res.body.on('data', (c: Buffer) => (bytes += c.length));
    await dump(res.body);
    if (!res.body.complete) throw networkError(signal.reason ?? new Error('connection closed mid-body'), signal, what);
  };
  let failed = false;
  const worker = async () => {
    while (!failed && next < urls.length) {
      try {
        await one(urls[next++]!);
      } catch (err) {
        failed = true; // the other workers stop after their current file
        throw err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: n }, worker));
  } finally {
    http.close();
  }
  o.log.info({ event: 'preheat-done', urls: urls.length, bytes }, `warmed the cache with ${urls.length} files`);
  return { kind: 'cache', urls: urls.length, bytes };
}
