/**
 * A wire worker's sockets: each with its own reused receive buffer (`onread`:
 * no Buffer allocated per read), and, for HTTP, kept alive between jobs to the
 * same host:port (a fresh connection per 2 MiB file starts with a small
 * receive window: reads of 109–172 KiB against 717–760 KiB on a kept-alive one,
 * measured for issue 18). A buffer belongs to one socket for its whole life and
 * the socket to one job at a time: a buffer another socket can still read into
 * would corrupt data without an error.
 */
import net from 'node:net';

/** Bytes per socket read. 1 MiB: reads on 127.0.0.1 reach ~760 KiB; fewer, larger writes. */
export const READ_BUFFER = 1024 * 1024;
/** Closed sockets' buffers kept for reuse, per worker. */
const MAX_FREE = 16;
/** An idle kept-alive socket is closed after this long (nginx's keepalive_timeout is 75 s; ours is shorter). */
const IDLE_MS = 4000;
/** Idle sockets kept per host:port. */
const IDLE_MAX = 8;

/** Where a connection's events go while a job holds it. */
export interface ConnUser {
  connected(): void;
  /** `buf[0, n)` was read; the buffer is read into again once this returns. */
  data(n: number, buf: Buffer): void;
  /** The peer ended the stream (EOF). */
  end(): void;
  error(err: Error): void;
  /** Closed without an end or an error seen by this user (destroyed underneath). */
  closed(): void;
}

export class Conn {
  user: ConnUser | null = null;
  /** It served a job before: a failure before any answer byte may just be the server closing an idle connection. */
  reused = false;
  connected = false;
  idleTimer: NodeJS.Timeout | null = null;
  readonly socket: net.Socket;

  constructor(
    readonly key: string,
    host: string,
    port: number,
    free: Buffer[],
  ) {
    const buffer = free.pop() ?? Buffer.allocUnsafe(READ_BUFFER);
    this.socket = net.connect({
      host,
      port,
      // A Buffer, not a function: a buffer function that returns nothing makes Node 20 silently read the normal way.
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array) => {
          // Node 20 passes the buffer given above; typed as Uint8Array.
          const b = buf as Buffer;
          if (this.user) this.user.data(n, b);
          else this.socket.destroy(); // bytes on an idle connection: nothing to do with them
          return true;
        },
      },
    });
    this.socket.on('connect', () => {
      this.connected = true;
      this.user?.connected();
    });
    this.socket.on('end', () => this.user?.end());
    this.socket.on('error', (err) => this.user?.error(err));
    this.socket.on('close', () => {
      // Closed: the socket reads into it no more, so the next connection may.
      if (free.length < MAX_FREE) free.push(buffer);
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.user?.closed();
    });
  }
}

/** The sockets of one worker: fresh ones per job, or an idle kept-alive one to the same host:port. */
export class Conns {
  private readonly idle = new Map<string, Conn[]>();
  /** Read buffers of closed sockets, for the next ones: an FTP pull opens a socket per file. */
  private readonly free: Buffer[] = [];

  acquire(host: string, port: number, user: ConnUser, fresh = false): Conn {
    const key = `${host}:${port}`;
    const list = this.idle.get(key);
    let c: Conn | undefined;
    while (!fresh && list && list.length > 0 && !c) {
      const maybe = list.pop()!;
      if (!maybe.socket.destroyed) c = maybe;
    }
    if (c) {
      clearTimeout(c.idleTimer!);
      c.reused = true;
      c.user = user;
      queueMicrotask(() => user.connected());
      return c;
    }
    const conn = new Conn(key, host, port, this.free);
    conn.user = user;
    return conn;
  }

  /** The job is done with `c` and its stream is at a message boundary: keep it for the next job to the same place. */
  release(c: Conn): void {
    c.user = null;
    const list = this.idle.get(c.key) ?? [];
    if (c.socket.destroyed || list.length >= IDLE_MAX) return void c.socket.destroy();
    list.push(c);
    this.idle.set(c.key, list);
    const drop = () => {
      const l = this.idle.get(c.key);
      const i = l?.indexOf(c) ?? -1;
      if (i >= 0) l!.splice(i, 1);
      c.socket.destroy();
    };
    c.idleTimer = setTimeout(drop, IDLE_MS).unref();
  }

  drop(c: Conn): void {
    c.user = null;
    c.socket.destroy();
  }

  closeAll(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) this.drop(c);
    this.idle.clear();
  }
}
