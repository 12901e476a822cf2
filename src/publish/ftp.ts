/**
 * FTP: STOR into a fresh name (after MKD of the missing parents), SIZE to check
 * the server has every byte, RNFR/RNTO to move a file over another (the
 * server's rename(2): vsftpd, pure-ftpd and ftp-srv replace the target in one
 * step). A server that refuses to rename onto an existing file gets DELE + RNFR/RNTO,
 * with a warning: there, for one round trip, the target is absent.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { withDeadline } from '../deadline.js';
import { basicFtp } from '../lazy.js';
import type { Logger } from '../log.js';
import { RemoteError, TransientError, type MonitorError } from '../errors.js';
import { joinRemote, safeRelative } from '../paths.js';
import { ftpConnector, ftpEndpoint, type FtpOptions } from '../sources/ftp.js';
import { FtpPool, guarded, mapFtpError, sizeOf, type Endpoint } from '../sources/ftp-pool.js';
import type { IoOptions, SourceDeps } from '../sources/types.js';
import type { PutOptions, Writer, WriterFactory } from './types.js';

export const ftpWriter = {
  kind: 'ftp',
  create(opts: FtpOptions, deps: SourceDeps): Writer {
    return new FtpWriter(opts, deps);
  },
} satisfies WriterFactory<FtpOptions>;

const isCode = (err: unknown, ...codes: number[]) => err instanceof basicFtp().FTPError && codes.includes(err.code);

/** A write refused (550/553 on MKD, STOR, RNTO) is a refusal, not a missing file as for a read. */
function writeError(err: unknown, what: string, ep: Endpoint, o: { signal: AbortSignal; lost: boolean }): MonitorError {
  if (isCode(err, 550, 553, 552, 532) && !o.signal.aborted) {
    const reply = `${(err as { code: number }).code} ${(err as Error).message.replace(/^\d{3}[ -]/, '').trim()}`;
    return new RemoteError(`${what}: ${ep.address} refused the write (${reply}); is the remote path writable for user "${ep.user}"?`, { cause: err });
  }
  return mapFtpError(err, what, ep, o);
}

class FtpWriter implements Writer {
  readonly kind = 'ftp';
  readonly features = { atomicReplace: true, atomicPut: false } as const;
  readonly displayUrl: string;
  private readonly pool: FtpPool;
  private readonly endpoint: Endpoint;
  private readonly log: Logger;
  /** Directories made or seen during this run: MKD once per directory, not once per file. */
  private readonly dirs = new Set<string>();
  private readonly timeoutMs: number;

  constructor(
    private readonly opts: FtpOptions,
    deps: SourceDeps,
  ) {
    this.endpoint = ftpEndpoint(opts);
    this.timeoutMs = deps.timeoutMs;
    this.displayUrl = `${opts.secure ? 'ftps' : 'ftp'}://${this.endpoint.address}${opts.root === '/' ? '' : encodeURI(opts.root)}`;
    this.log = deps.log;
    this.pool = new FtpPool({
      max: Math.max(1, deps.concurrency),
      timeoutMs: deps.timeoutMs,
      endpoint: this.endpoint,
      log: this.log,
      connect: ftpConnector(opts),
    });
  }

  private remote(p: string): string {
    return joinRemote(this.opts.root, safeRelative(joinRemote(p).replace(/^\//, '')));
  }

  /** MKD of each missing level, the root included (550 "exists" is fine). */
  private async ensureDir(client: Client, abs: string): Promise<void> {
    if (abs === '/' || this.dirs.has(abs)) return;
    await this.ensureDir(client, path.posix.dirname(abs));
    await client.send(`MKD ${abs}`).catch((err: unknown) => {
      if (!isCode(err, 550, 521)) throw err;
    });
    this.dirs.add(abs);
  }

  /** The transfer is bounded by basic-ftp's inactivity timeout (--timeout), not by a deadline on the whole file. */
  async put(p: string, body: Readable, o: PutOptions): Promise<void> {
    const abs = this.remote(p);
    // Connecting (greeting, TLS, login) within --timeout, on a timer of our own (deadline.ts); the transfer after it has none.
    const lease = await withDeadline(o.signal, this.timeoutMs, `connect (${this.endpoint.address})`, (s) => this.pool.acquire(s));
    let broken = true;
    try {
      await guarded(lease.client, o.signal, async () => {
        await this.ensureDir(lease.client, path.posix.dirname(abs));
        await lease.client.uploadFrom(body, abs);
        const size = await sizeOf(lease.client, abs);
        if (size !== undefined && size !== o.size) throw new TransientError(`upload ${abs}: the server holds ${size} of ${o.size} bytes`);
      });
      broken = false;
    } catch (err) {
      body.destroy();
      throw writeError(err, `upload ${abs}`, this.endpoint, { signal: o.signal, lost: lease.client.closed });
    } finally {
      lease.release(broken);
    }
  }

  async rename(from: string, to: string, o: IoOptions): Promise<void> {
    const [a, b] = [this.remote(from), this.remote(to)];
    const what = `rename ${a} to ${b}`;
    await this.pool.run(what, o.signal, async ({ client }) => {
      try {
        await this.ensureDir(client, path.posix.dirname(b));
        await client.rename(a, b);
      } catch (err) {
        if (!isCode(err, 550, 553)) throw err;
        // Some servers refuse RNTO onto an existing file: delete it first (not atomic, said in the docs).
        const gone = await client.send(`DELE ${b}`).then(
          () => true,
          () => false,
        );
        if (!gone) throw writeError(err, what, this.endpoint, { signal: o.signal, lost: false });
        this.log.warn({ event: 'rename-not-atomic' }, 'the FTP server refused to rename onto an existing file; deleted it first');
        await client.rename(a, b).catch((e: unknown) => Promise.reject(writeError(e, what, this.endpoint, { signal: o.signal, lost: false })));
      }
    });
  }

  async delete(p: string, o: IoOptions): Promise<void> {
    const abs = this.remote(p);
    await this.pool.run(`delete ${abs}`, o.signal, ({ client }) =>
      client.send(`DELE ${abs}`).then(
        () => undefined,
        (err: unknown) => {
          if (!isCode(err, 550)) throw err; // 550: not there (or not ours to delete)
        },
      ),
    );
  }

  async removeDir(p: string, o: IoOptions): Promise<void> {
    const abs = this.remote(p);
    this.dirs.delete(abs);
    await this.pool.run(`rmdir ${abs}`, o.signal, ({ client }) =>
      client.send(`RMD ${abs}`).then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}
