/**
 * One wire job inside a worker: a socket's bytes written into a file at
 * explicit offsets, straight from the socket's reused buffer (conns.ts) with a
 * synchronous positional write in the read callback: when the callback returns
 * the bytes are in the page cache and the buffer is free for the next read (no
 * copy, no Buffer per read, no stream between socket and file). A blocking
 * write is why this runs off the main thread (~0.5 ms per MiB, unbounded under
 * dirty-page throttling or NFS). The md5, when asked, is fed inline from the
 * same buffer.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, openSync, read, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { stallTimer, type StallTimer } from '../meter.js';
import { Body, type BodyMode } from './body.js';
import type { Conn, Conns, ConnUser } from './conns.js';
import type { WireHead, WireJob } from './engine.js';
import { HeadParser } from './http-head.js';
import type { WireFault } from './messages.js';

/** Progress goes to the main thread at most once per this many bytes (and on the worker's tick). */
const REPORT_BYTES = 4 * 1024 * 1024;
const readAsync = promisify(read);

export interface JobEvents {
  connected(): void;
  head(head: WireHead): void;
  bytes(n: number): void;
  done(r: { bytes: number; md5: string | null; head?: WireHead; errorBody?: string }): void;
  fail(fault: WireFault, bytesWritten: number): void;
}

export class Job implements ConnUser {
  private fd = -1;
  private hash: Hash | null = null;
  private conn: Conn | null = null;
  private settled = false;
  /** Body bytes written to the file. */
  private bytes = 0;
  private unreported = 0;
  private headTimer: NodeJS.Timeout | null = null;
  private stall: StallTimer | null = null;
  private parser: HeadParser | null;
  private body: Body | null = null;
  private head: WireHead | undefined;
  /** Any byte of an answer came on this connection. */
  private answered = false;

  private readonly what: string;

  constructor(
    private readonly job: WireJob,
    private readonly conns: Conns,
    private readonly ev: JobEvents,
  ) {
    this.parser = job.protocol === 'http' ? new HeadParser() : null;
    this.what = job.what ?? `${job.host}:${job.port}`;
  }

  private fault(kind: WireFault['kind'], message: string, code?: string): WireFault {
    return { kind, message: `${this.what}: ${message}`, ...(code ? { code } : {}) };
  }

  async start(): Promise<void> {
    const j = this.job;
    if (!j.headOnly && !j.gated && !(await this.openFile())) return;
    if (this.settled) return;
    const what = j.protocol === 'http' ? 'response headers' : 'connection';
    this.headTimer = setTimeout(() => this.fail(this.fault('stall', `no ${what} within ${j.headMs} ms`)), j.headMs);
    this.conn = this.conns.acquire(j.host, j.port, this);
  }

  /** Opens the file (and hashes its prefix for a resume with md5); false when that failed the job. */
  private async openFile(): Promise<boolean> {
    const j = this.job;
    try {
      // Never through a symlink; r+ when it exists (a resume point, a part of a pre-sized file), else created; emptied for a fresh file.
      const flags = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | (j.truncate ? constants.O_TRUNC : 0);
      this.fd = openSync(j.file, flags, 0o644);
      if (j.md5) this.hash = await hashPrefix(this.fd, j.position);
      return true;
    } catch (err) {
      this.fail(this.fault('write', `${j.file}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code));
      return false;
    }
  }

  connected(): void {
    if (this.settled) return;
    if (this.job.protocol === 'raw') {
      this.clearHeadTimer();
      this.body = new Body('write', null);
      // Gated: no read until go() (pausing in the connect event keeps node from starting to read at all).
      if (this.job.gated) this.conn!.socket.pause();
      this.startStall();
      this.ev.connected();
    } else this.conn!.socket.write(this.job.request ?? '');
  }

  /** The main thread opened the gate: the file is opened and the bytes flow. */
  async go(): Promise<void> {
    if (this.settled || !this.job.gated || this.fd >= 0) return;
    if (!(await this.openFile()) || this.settled) return;
    this.conn?.socket.resume();
  }

  data(n: number, buf: Buffer): void {
    if (this.settled) return;
    this.answered = true;
    let at = 0;
    if (this.parser) {
      const step = this.parser.push(buf, n);
      if ('error' in step) return this.fail(this.fault('protocol', step.error));
      if (!step.done) return;
      this.parser = null;
      this.clearHeadTimer();
      if (!this.onHead(step.head, step.version, n > step.bodyAt)) return;
      at = step.bodyAt;
    }
    if (n > at) this.take(buf, at, n - at);
  }

  /** The answer's head: what to do with its body. False when the job ended on it. */
  private onHead(head: WireHead, version: string, more: boolean): boolean {
    this.head = head;
    const h = head.headers;
    if (this.job.headOnly) {
      // The answer to a HEAD has no body (RFC 9110 §9.3.2), whatever its framing headers say; `done` carries the head.
      // Bytes after it in the same read are no answer to anything: that connection is not reused.
      this.body = new Body('write', 0, !more && version === '1.1' && !/\bclose\b/i.test(h.connection ?? ''));
      this.finish();
      return false;
    }
    this.ev.head(head);
    const { position, length } = this.job;
    const cl = h['content-length'] === undefined ? null : Number(h['content-length']);
    if (cl !== null && !(Number.isSafeInteger(cl) && cl >= 0)) return (this.fail(this.fault('protocol', `bad Content-Length: ${h['content-length']}`)), false);
    const chunked = /\bchunked\b/i.test(h['transfer-encoding'] ?? '');
    const asked = this.job.expect;
    const ours =
      asked !== undefined
        ? head.status === asked
        : (head.status === 200 && position === 0) || (head.status === 206 && (h['content-range'] ?? '').startsWith(`bytes ${position}-`));
    const mode: BodyMode = ours ? 'write' : 'error';
    if (ours && chunked) return (this.fail(this.fault('unsupported', 'a chunked answer (the wire path reads Content-Length or to-EOF bodies only)')), false);
    if (ours && cl !== null && cl > length)
      return (this.fail(this.fault('size', `the server answered with ${cl} bytes, more than the ${length} asked for`)), false);
    const keepAlive = !chunked && cl !== null && version === '1.1' && !/\bclose\b/i.test(h.connection ?? '');
    this.body = new Body(mode, chunked ? null : cl, keepAlive, chunked);
    this.startStall();
    if (this.body.complete) this.finish();
    return !this.settled;
  }

  /** Body bytes `buf[at, at + n)`. */
  private take(buf: Buffer, at: number, n: number): void {
    const body = this.body!;
    const k = body.accept(n);
    if (body.mode === 'error') {
      body.keep(buf.subarray(at, at + k));
      if (body.complete || body.errorFull) this.finish();
      return;
    }
    const room = this.job.length - this.bytes;
    const w = Math.min(k, room);
    if (w > 0 && !this.write(buf, at, w)) return;
    if (k > room) return this.fail(this.fault('size', `the server sent more than the ${this.job.length} bytes asked for`));
    if (k < n) body.extra = true;
    if (body.complete) this.finish();
  }

  private write(buf: Buffer, at: number, n: number): boolean {
    const pos = this.job.position + this.bytes;
    try {
      for (let off = 0; off < n;) off += writeSync(this.fd, buf, at + off, n - off, pos + off);
    } catch (err) {
      this.fail(this.fault('write', `${this.job.file}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code));
      return false;
    }
    this.hash?.update(buf.subarray(at, at + n));
    this.bytes += n;
    this.unreported += n;
    this.stall?.touch(n);
    if (this.unreported >= REPORT_BYTES) this.report();
    return true;
  }

  end(): void {
    if (this.settled) return;
    if (this.retryStale()) return;
    if (!this.body) return this.fail(this.fault('network', 'connection closed before the response head'));
    if (this.body.mode === 'error' || this.body.length === null) {
      if (this.body.mode === 'write' && this.bytes < this.job.length) return this.dropped();
      this.body.keepAlive = false;
      return this.finish();
    }
    this.dropped();
  }

  error(err: Error): void {
    if (this.settled || this.retryStale()) return;
    const code = (err as NodeJS.ErrnoException).code;
    this.fail(this.fault('network', `${code ?? 'socket error'} after ${this.bytes} of ${this.job.length} bytes`, code));
  }

  closed(): void {
    if (!this.settled && !this.retryStale()) this.dropped();
  }

  private dropped(): void {
    this.fail(this.fault('network', `connection ended after ${this.bytes} of ${this.job.length} bytes`));
  }

  /** A kept-alive connection the server had closed: once, on a fresh one, before any byte of an answer. */
  private retryStale(): boolean {
    const c = this.conn;
    if (!c?.reused || this.answered) return false;
    this.conns.drop(c);
    this.conn = this.conns.acquire(this.job.host, this.job.port, this, true);
    return true;
  }

  abort(): void {
    this.fail(this.fault('aborted', 'aborted'));
  }

  /** Progress since the last report. */
  report(): void {
    if (this.unreported === 0) return;
    this.ev.bytes(this.unreported);
    this.unreported = 0;
  }

  private finish(): void {
    if (this.settled) return;
    if (this.body?.mode === 'write' && this.bytes < this.job.length) return this.dropped();
    const body = this.body!;
    this.settle(body.keepAlive && body.complete && !body.extra);
    try {
      if (this.fd >= 0) closeSync(this.fd);
    } catch (err) {
      return this.ev.fail(this.fault('write', `${this.job.file}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code), this.bytes);
    }
    this.report();
    const errorBody = body.mode === 'error' ? body.text() : undefined;
    this.ev.done({
      bytes: this.bytes,
      md5: this.hash ? this.hash.digest('hex') : null,
      ...(this.head ? { head: this.head } : {}),
      ...(errorBody !== undefined ? { errorBody } : {}),
    });
  }

  private fail(f: WireFault): void {
    if (this.settled) return;
    this.settle(false);
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // the failure being reported says more
      }
    }
    this.report();
    this.ev.fail(f, this.bytes);
  }

  /** Stops the timers and lets go of the connection (kept for the next job only at a clean message boundary). */
  private settle(keep: boolean): void {
    this.settled = true;
    this.clearHeadTimer();
    this.stall?.stop();
    const c = this.conn;
    this.conn = null;
    if (c && keep) this.conns.release(c);
    else if (c) this.conns.drop(c);
  }

  private startStall(): void {
    const j = this.job;
    this.stall = stallTimer(j.idleMs, this.what, (err) => this.fail({ kind: 'stall', message: err.message }), j.minBytesPerSec);
  }

  private clearHeadTimer(): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = null;
  }
}

/** An md5 fed with the file's bytes [0, size), read through one buffer (async: other jobs of this worker go on meanwhile). */
async function hashPrefix(fd: number, size: number): Promise<Hash> {
  const hash = createHash('md5');
  if (size === 0) return hash;
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, size));
  for (let pos = 0; pos < size;) {
    const { bytesRead } = await readAsync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) throw new Error(`ended at ${pos} of the ${size} bytes to resume from`);
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash;
}
