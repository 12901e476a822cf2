/**
 * FTP downloads on the data path of our own (issue 18): the control
 * connection stays a pooled basic-ftp client (its reply parsing, timeouts and
 * error handling), the data connection of each RETR is a 'raw' wire job: a
 * socket in an engine worker whose bytes go straight to the file at their
 * offset. The order on the wire is basic-ftp's own: SIZE (the one-version
 * check), EPSV or PASV, REST when resuming, then RETR once the data connection
 * is up; 125/150 before the bytes, 226/250 after them. A server whose 150
 * names the size (vsftpd, ProFTPD) is asked no SIZE for a whole file: its 150
 * is the check.
 *
 * A transfer that failed in any way closes its control connection: the server
 * may still owe a reply (426, a late 226) and ABOR is answered too unevenly
 * across servers to put the connection back in a known state.
 */
import { createRequire } from 'node:module';
import type { Client, FTPContext, FTPResponse } from 'basic-ftp';
import type * as Transfer from 'basic-ftp/dist/transfer.js';
import type * as NetUtils from 'basic-ftp/dist/netUtils.js';
import { basicFtp } from '../lazy.js';
import { abortReason, MonitorError, RemoteError, TransientError } from '../errors.js';
import { deadline } from '../deadline.js';
import { bytesWritten, type WireEngine, type WireFailure } from '../wire/engine.js';
import { mapFtpError, sizeOf, type Endpoint, type FtpPool, type Lease } from './ftp-pool.js';
import type { DownloadOptions, DownloadResult, DownloadTarget } from './types.js';

/** Where a data connection goes. */
export interface DataAddress {
  readonly host: string;
  readonly port: number;
}

const require = createRequire(import.meta.url);

/** basic-ftp's EPSV/PASV reply parsers and its private-address test (not in its index; loaded with it). */
function ftpInternals(): { transfer: typeof Transfer; net: typeof NetUtils } {
  basicFtp();
  return { transfer: require('basic-ftp/dist/transfer') as typeof Transfer, net: require('basic-ftp/dist/netUtils') as typeof NetUtils };
}

const stripMapped = (ip: string) => ip.replace(/^::ffff:/i, '');

/**
 * The host a PASV reply's data connection goes to. basic-ftp's rules: the
 * announced host when it is the control connection's (or both are loopback);
 * the control host when the announced one is private or unroutable while the
 * control host is not (a server behind NAT naming its inside address, or
 * 0.0.0.0); any other host is refused (an FTP bounce).
 */
export function pasvHost(announced: string, control: string): string {
  const { net } = ftpInternals();
  const c = stripMapped(control);
  if (announced === c || (net.isLoopback(announced) && net.isLoopback(c))) return c;
  const unroutable = announced === '0.0.0.0' || net.ipIsPrivateV4Address(announced) || net.isLoopback(announced);
  if (unroutable && !net.ipIsPrivateV4Address(c) && !net.isLoopback(c)) return c;
  throw new RemoteError(`PASV named another host (${announced}) than the control connection's (${c}); refused`);
}

/**
 * EPSV, else PASV; a client that was refused EPSV once goes to PASV directly
 * (remembered in `pasvOnly`, per client, as basic-ftp's prepareTransfer does).
 */
export async function passive(client: Client, pasvOnly: WeakSet<Client>): Promise<DataAddress> {
  const { transfer } = ftpInternals();
  const control = client.ftp.socket.remoteAddress;
  if (control === undefined) throw new TransientError('the FTP control connection is gone');
  if (!pasvOnly.has(client)) {
    const epsv = await client.ftp.request('EPSV').then(
      (res) => transfer.parseEpsvResponse(res.message),
      (err: unknown) => (err instanceof basicFtp().FTPError ? undefined : Promise.reject(err)),
    );
    if (epsv !== undefined) return { host: stripMapped(control), port: epsv };
    pasvOnly.add(client);
  }
  const res = await client.ftp.request('PASV');
  const target = transfer.parsePasvResponse(res.message);
  return { host: pasvHost(target.host, control), port: target.port };
}

/**
 * RETR on the control connection: the promise settles with the final reply.
 * A 2xx must follow a 125/150 and be 226 or 250; 4xx/5xx replies reject with
 * basic-ftp's FTPError (mapped by mapFtpError). While the bytes flow the
 * control socket has no inactivity timeout (the data side has the engine's).
 */
export function retr(ftp: FTPContext, abs: string, onStart?: (message: string) => void): Promise<FTPResponse> {
  let started = false;
  return ftp.handle(`RETR ${abs}`, (res, task) => {
    if (res instanceof Error) return task.reject(res);
    if (res.code === 125 || res.code === 150) {
      started = true;
      ftp.socket.setTimeout(0);
      try {
        onStart?.(res.message);
      } catch (err) {
        task.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return;
    }
    if (res.code < 200) return; // other preliminary replies (110 restart markers)
    if (started && (res.code === 226 || res.code === 250)) return task.resolve(res);
    task.reject(new RemoteError(`RETR ${abs}: unexpected reply ${res.message.trim()}${started ? '' : ' (no 125/150 first)'}`));
  });
}

/**
 * The file's size in a RETR's 150 reply, as vsftpd and ProFTPD give it
 * ("150 Opening BINARY mode data connection for f (2097152 bytes)."): the size
 * of what this very transfer sends.
 */
export function sizeIn150(message: string): number | undefined {
  const m = /\((\d+) bytes\)\.?\s*$/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/** How long a failed data connection waits for the control connection's reply that explains it. */
const EXPLAIN_MS = 1000;

/** Resolves once `p` settles or after `ms`, whichever comes first. */
async function settled(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([p.then(noop, noop), late]);
  clearTimeout(timer);
}

const noop = () => {};

/** A gate for a wire job: `promise` settles when open() or refuse() is called. */
function gated(): { promise: Promise<void>; open: () => void; refuse: (err: unknown) => void } {
  let open = noop;
  let refuse: (err: unknown) => void = noop;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    refuse = reject;
  });
  return { promise, open, refuse };
}

/** `err` with the bytes on disk as its resume point. */
export function withBytes<E extends MonitorError>(err: E, bytes: number): E & WireFailure {
  return Object.assign(err, { bytesWritten: bytes });
}

export interface FtpDataOptions {
  readonly pool: FtpPool;
  readonly wire: WireEngine;
  readonly endpoint: Endpoint;
  readonly timeoutMs: number;
}

/** The FTP source's download(): one file from `position` to its end, on the wire engine. */
export class FtpData {
  /** Clients whose server refused EPSV. */
  private readonly pasvOnly = new WeakSet<Client>();
  /**
   * Whether this server names the size in its 150 replies (learned from the
   * first RETR): then a download from offset 0 sends no SIZE (one round trip
   * less per file), and the 150's size is the one-version check.
   */
  private sizeIn150: boolean | null = null;

  constructor(private readonly o: FtpDataOptions) {}

  async download(abs: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult> {
    const what = `download ${abs}`;
    // Under the pool's per-op deadline, with its one retry on a connection that died idle.
    const byStart = t.position === 0 && this.sizeIn150 === true;
    const { lease, result: addr } = await this.o.pool.checkout(what, o.signal, async ({ client }) => {
      if (!byStart) {
        const size = await sizeOf(client, abs);
        if (size !== undefined) o.onMeta?.({ size }); // a changed file fails here, before a byte is written
      }
      const addr = await passive(client, this.pasvOnly);
      if (t.position > 0) await client.send(`REST ${t.position}`); // 350
      return addr;
    });
    // Without SIZE the 150 is the check: the data waits behind a gate (socket paused, file unopened) until it passed.
    const gate = byStart ? gated() : null;
    const onStart = (message: string) => {
      const size = sizeIn150(message);
      // Learned from the first whole-file 150; a server that once stops naming it is asked SIZE from then on
      // (this file is held to its listed length).
      if (t.position === 0) this.sizeIn150 = (this.sizeIn150 ?? true) && size !== undefined;
      try {
        if (byStart && size !== undefined) o.onMeta?.({ size }); // a changed file fails here, before a byte is written
        gate?.open();
      } catch (err) {
        gate?.refuse(err);
        throw err;
      }
    };
    return this.retrieve(lease, abs, addr, t, { ...o, gate: gate?.promise }, onStart);
  }

  private async retrieve(
    lease: Lease,
    abs: string,
    addr: DataAddress,
    t: DownloadTarget,
    o: DownloadOptions & { readonly gate?: Promise<void> | undefined },
    onStart: (message: string) => void,
  ): Promise<DownloadResult> {
    const what = `download ${abs}`;
    const { client } = lease;
    const job = new AbortController();
    let control: Promise<FTPResponse> | undefined;
    let controlError: unknown;
    let dataDone = false;
    const onAbort = () => {
      client.ftp.closeWithError(abortReason(o.signal));
      job.abort(o.signal.reason);
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (o.signal.aborted) throw abortReason(o.signal);
      const onConnected = () => {
        control = retr(client.ftp, abs, onStart);
        control.catch((err: unknown) => {
          controlError = err;
          job.abort(err); // no more bytes will be wanted: stop the data side now
        });
      };
      const spec = {
        host: addr.host,
        port: addr.port,
        protocol: 'raw',
        what: abs,
        file: t.file,
        position: t.position,
        truncate: t.fresh,
        length: t.length,
      } as const;
      const limits = { md5: t.md5, idleMs: t.idleMs, minBytesPerSec: t.minBytesPerSec, headMs: this.o.timeoutMs };
      const r = await this.o.wire.run({ ...spec, ...limits }, { signal: job.signal, onBytes: o.onBytes, onConnected, gate: o.gate });
      dataDone = true;
      await this.finalReply(control, what, r.bytes, o.signal);
      lease.release();
      return { bytes: r.bytes, md5: r.md5 };
    } catch (err) {
      // A data connection cut short is followed by the server's reply (426, 451, 551): wait a
      // moment for it, so the error says what the server said and its class does not hang on a race.
      if (control && !dataDone && controlError === undefined && !o.signal.aborted) await settled(control, EXPLAIN_MS);
      lease.release(true);
      throw this.failure(err, controlError, what, client, o.signal);
    } finally {
      o.signal.removeEventListener('abort', onAbort);
    }
  }

  /** After the data's EOF the 226/250 must come within the per-op timeout. */
  private async finalReply(control: Promise<FTPResponse> | undefined, what: string, bytes: number, signal: AbortSignal): Promise<void> {
    if (!control) throw withBytes(new RemoteError(`${what}: the data connection ended before RETR was sent`), bytes);
    const d = deadline(signal, this.o.timeoutMs, `${what}: the reply after the data`);
    try {
      await new Promise<void>((resolve, reject) => {
        d.signal.addEventListener('abort', () => reject(abortReason(d.signal)), { once: true });
        control.then(() => resolve(), reject);
      });
    } catch (err) {
      throw withBytes(err instanceof MonitorError ? err : mapFtpError(err, what, this.o.endpoint, { lost: true }), bytes);
    } finally {
      d.clear();
    }
  }

  /** The error a failed transfer reports: the control side's when it failed first, with the bytes on disk. */
  private failure(err: unknown, controlError: unknown, what: string, client: Client, signal: AbortSignal): MonitorError {
    const bytes = bytesWritten(err);
    if (signal.aborted) return withBytes(mapFtpError(err, what, this.o.endpoint, { signal }), bytes);
    if (controlError !== undefined) {
      const lost = client.closed || !(controlError instanceof basicFtp().FTPError);
      return withBytes(mapFtpError(controlError, what, this.o.endpoint, { lost }), bytes);
    }
    if (err instanceof MonitorError) return withBytes(err, bytes);
    return withBytes(new TransientError(`${what}: transfer failed (${(err as Error).message})`, { cause: err }), bytes);
  }
}
