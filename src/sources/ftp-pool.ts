/**
 * The FTP source's connection pool and its error boundary. basic-ftp runs one
 * operation at a time per Client (one control connection each), so parallel
 * transfers need several clients: up to `max`, opened lazily, reused while
 * their control connection is alive and dropped (and later replaced) once it
 * is not. Every basic-ftp error becomes a MonitorError here.
 */
import type { Client } from 'basic-ftp';
import { basicFtp } from '../lazy.js';
import { abortReason, AbortedError, AuthError, isTransientNetworkError, MonitorError } from '../errors.js';
import { NotFoundError, RemoteError, TransientError } from '../errors.js';
import type { Logger } from '../log.js';
import { deadline } from '../deadline.js';
import type { RemoteEntry } from './types.js';

/** What an error message may say about the connection: never the password. */
export interface Endpoint {
  /** `host:port`. */
  readonly address: string;
  readonly user: string;
}

/** A client checked out of the pool; release it exactly once. */
export interface Lease {
  readonly client: Client;
  /** Opened for this lease (not reused from the idle list). */
  readonly fresh: boolean;
  /** Server supports MLST/MLSD (RFC 3659). */
  readonly mlst: boolean;
  /** Back to the idle list, or closed when `broken` or the connection is gone. */
  release(broken?: boolean): void;
}

export interface PoolOptions {
  readonly max: number;
  /** Per-operation deadline (ms), also basic-ftp's inactivity timeout. */
  readonly timeoutMs: number;
  readonly endpoint: Endpoint;
  readonly log: Logger;
  /** Opens a new client's control connection: connect, TLS, login, TYPE I, OPTS UTF8 ON. */
  readonly connect: (client: Client) => Promise<void>;
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * basic-ftp's error → the shared contract. `lost` = the control connection is
 * gone afterwards (basic-ftp closes the client on any socket error, FIN or
 * timeout), which makes an otherwise unclassified error a dropped connection.
 */
export function mapFtpError(err: unknown, what: string, ep: Endpoint, o: { signal?: AbortSignal; lost?: boolean } = {}): MonitorError {
  if (o.signal?.aborted) {
    const reason = abortReason(o.signal);
    return reason instanceof TransientError ? new TransientError(`${what}: timed out (${ep.address})`, { cause: reason }) : reason;
  }
  if (err instanceof MonitorError) return err;
  if (err instanceof basicFtp().FTPError) {
    const reply = `${err.code} ${err.message.replace(/^\d{3}[ -]/, '').trim()}`;
    if (err.code === 530) {
      return new AuthError(`${what}: ${ep.address} refused the login of user "${ep.user}" (${reply})`, { cause: err });
    }
    if (err.code === 550) return new NotFoundError(`${what}: not found (${reply})`, { cause: err });
    if (err.code >= 400 && err.code < 500) return new TransientError(`${what}: ${reply}`, { cause: err });
    return new RemoteError(`${what}: ${reply}`, { cause: err });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) {
    const hint = '--ftp-insecure-tls accepts a self-signed one';
    return new RemoteError(`${what}: the TLS certificate of ${ep.address} is not trusted (${code}); ${hint}`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  if (isTransientNetworkError(err) || o.lost === true) {
    return new TransientError(`${what}: connection to ${ep.address} failed or dropped (${msg})`, { cause: err });
  }
  return new RemoteError(`${what}: ${msg}`, { cause: err });
}

/**
 * Runs `fn` on `client`; an abort of `signal` closes the client (control and data
 * connection), which makes basic-ftp reject the running command at once.
 */
export async function guarded<T>(client: Client, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw abortReason(signal);
  const onAbort = () => client.ftp.closeWithError(abortReason(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export class FtpPool {
  private readonly idle: Client[] = [];
  private readonly leased = new Set<Client>();
  private readonly waiters = new Set<() => void>();
  private readonly mlst = new WeakMap<Client, boolean>();
  private count = 0;
  private closed = false;

  constructor(private readonly o: PoolOptions) {}

  /** A live client: an idle one, a new one while fewer than `max` exist, else the next one released. */
  async acquire(signal: AbortSignal): Promise<Lease> {
    for (;;) {
      if (signal.aborted) throw mapFtpError(undefined, 'connect', this.o.endpoint, { signal });
      if (this.closed) throw new AbortedError('FTP source closed');
      const reused = this.idle.pop();
      if (reused && !reused.closed) return this.lease(reused, false);
      if (reused) {
        this.o.log.debug({ event: 'ftp-reconnect' }, 'idle FTP connection was closed by the server; replacing it');
        this.drop(reused);
        continue;
      }
      if (this.count < this.o.max) return this.lease(await this.open(signal), true);
      await this.nextRelease(signal);
    }
  }

  /**
   * One idempotent operation under the per-op deadline. A reused client whose
   * connection turns out to be dead (the server restarted or timed it out while
   * it sat idle) is replaced and the operation run once more.
   */
  async run<T>(what: string, signal: AbortSignal, fn: (lease: Lease) => Promise<T>): Promise<T> {
    const { lease, result } = await this.checkout(what, signal, fn);
    lease.release();
    return result;
  }

  /** As run(), but on success the lease stays checked out (a transfer that outlives the call). */
  async checkout<T>(what: string, signal: AbortSignal, fn: (l: Lease) => Promise<T>): Promise<{ lease: Lease; result: T }> {
    // Connect (greeting, TLS, login) and the command itself, under one deadline held by our own timer.
    const d = deadline(signal, this.o.timeoutMs, `${what} (${this.o.endpoint.address})`);
    const s = d.signal;
    try {
      for (let attempt = 0; ; attempt++) {
        const lease = await this.acquire(s);
        try {
          return { lease, result: await guarded(lease.client, s, () => fn(lease)) };
        } catch (err) {
          const lost = lease.client.closed;
          const replied = err instanceof basicFtp().FTPError || err instanceof MonitorError;
          // Only a server reply leaves the session in a known state; after anything else the
          // connection may still owe us a late reply, so it is not reused.
          lease.release(lost || !replied);
          if (lost && !replied && !lease.fresh && attempt === 0 && !s.aborted) {
            this.o.log.debug({ event: 'ftp-reconnect', what }, 'FTP connection dropped while idle; reconnecting');
            continue;
          }
          throw mapFtpError(err, what, this.o.endpoint, { signal: s, lost });
        }
      }
    } finally {
      d.clear();
    }
  }

  /** Closes idle clients now and leased ones (aborting their transfers); later acquires fail. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) this.drop(c);
    for (const c of this.leased) c.ftp.closeWithError(new AbortedError('FTP source closed'));
    for (const wake of this.waiters) wake();
  }

  private async open(signal: AbortSignal): Promise<Client> {
    this.count++;
    const client = new (basicFtp().Client)(this.o.timeoutMs);
    try {
      await guarded(client, signal, () => this.o.connect(client));
      this.mlst.set(client, client.availableListCommands.includes('MLSD'));
      this.o.log.debug({ event: 'ftp-connect', clients: this.count }, 'FTP connection opened');
      return client;
    } catch (err) {
      this.drop(client);
      throw mapFtpError(err, 'connect', this.o.endpoint, { signal, lost: true });
    }
  }

  private lease(client: Client, fresh: boolean): Lease {
    this.leased.add(client);
    let done = false;
    return {
      client,
      fresh,
      mlst: this.mlst.get(client) === true,
      release: (broken = false) => {
        if (done) return;
        done = true;
        this.leased.delete(client);
        if (broken || client.closed || this.closed) this.drop(client);
        else this.idle.push(client);
        this.wakeOne();
      },
    };
  }

  private drop(client: Client): void {
    client.close();
    this.count--;
    this.wakeOne();
  }

  private wakeOne(): void {
    const [first] = this.waiters;
    if (first) first();
  }

  private nextRelease(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}

// ---- commands on one leased connection ----

/** `modify=YYYYMMDDHHMMSS[.sss]` / an MDTM reply → epoch ms (UTC, RFC 3659). */
export function parseFtpTime(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(s.trim());
  if (!m) return undefined;
  const [y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0] = m.slice(1, 7).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, sec, m[7] ? Number(m[7].padEnd(3, '0')) : 0);
}

/** The fact line of an MLST reply (` type=file;size=3;modify=…; /path`) → its facts. */
export function parseMlstFacts(message: string): Map<string, string> | undefined {
  const line = message.split(/\r?\n/).find((l) => l.startsWith(' '));
  if (!line) return undefined;
  const facts = new Map<string, string>();
  const packed = line.trimStart().split(' ')[0] ?? '';
  for (const fact of packed.split(';')) {
    const eq = fact.indexOf('=');
    if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
  }
  return facts;
}

/** MLST where the server has it (one round trip), else CWD (a directory?) then SIZE + MDTM. */
export async function statPath({ client, mlst }: Lease, abs: string): Promise<RemoteEntry> {
  if (mlst) {
    const facts = parseMlstFacts((await client.send(`MLST ${abs}`)).message);
    const type = facts?.get('type')?.toLowerCase();
    // A symlink (pure-ftpd: `OS.unix=slink:`) is described as itself: follow it below instead.
    if (facts && (type === 'file' || type === 'dir' || type === 'cdir' || type === 'pdir')) {
      const isDirectory = type !== 'file';
      const mtimeMs = parseFtpTime(facts.get('modify') ?? '');
      const size = isDirectory ? 0 : Number(facts.get('size') ?? 0);
      return { path: abs, size, isDirectory, ...(mtimeMs !== undefined ? { mtimeMs } : {}) };
    }
  }
  const dir = await client.cd(abs).then(
    () => true,
    (err: unknown) => (isFtpCode(err, 500, 599) ? false : Promise.reject(err)),
  );
  if (dir) return { path: abs, size: 0, isDirectory: true };
  const size = (await sizeOf(client, abs)) ?? (await sizeFromListing(client, abs));
  const mtimeMs = await client.send(`MDTM ${abs}`).then(
    (r) => parseFtpTime(r.message.slice(4)),
    (err: unknown) => (isFtpCode(err, 500, 599) ? undefined : Promise.reject(err)),
  );
  return { path: abs, size, isDirectory: false, ...(mtimeMs !== undefined ? { mtimeMs } : {}) };
}

/** SIZE; undefined when the 213 reply has no number (ftp-srv says "213 File status" for an empty file). */
export async function sizeOf(client: Client, abs: string): Promise<number | undefined> {
  const m = /^213 (\d+)/.exec((await client.send(`SIZE ${abs}`)).message);
  return m ? Number(m[1]) : undefined;
}

async function sizeFromListing(client: Client, abs: string): Promise<number> {
  const slash = abs.lastIndexOf('/');
  await client.cd(abs.slice(0, slash) || '/');
  const found = (await client.list()).find((f) => f.name === abs.slice(slash + 1));
  if (!found) throw new RemoteError(`SIZE ${abs} gave no size and the listing does not show the file`);
  return found.size;
}

function isFtpCode(err: unknown, lo: number, hi: number): boolean {
  return err instanceof basicFtp().FTPError && err.code >= lo && err.code <= hi;
}
