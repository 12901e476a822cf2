/**
 * A hostile FTP server: it accepts connections and sends its 220 greeting one
 * byte at a time, every `everyMs`, so no inactivity timeout ever fires on the
 * client. It stops by itself after `lifetimeMs` (every socket cut, the
 * listener closed), whatever the test does.
 */
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';

export interface HostileFtp {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startTricklingFtp(o: { everyMs?: number; lifetimeMs?: number } = {}): Promise<HostileFtp> {
  const everyMs = o.everyMs ?? 1000;
  const sockets = new Set<Socket>();
  let count = 0;
  const greeting = '220 welcome to a very slow server\r\n';
  const server = createServer((sock) => {
    count++;
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
    // Every byte of the greeting but its final LF, over and over: the reply line never ends.
    const bytes = greeting.slice(0, -1);
    let i = 0;
    const timer = setInterval(() => {
      if (sock.destroyed) return clearInterval(timer);
      sock.write(bytes[i++ % bytes.length]!);
    }, everyMs);
    timer.unref();
    sock.on('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  setTimeout(() => void close().catch(() => {}), o.lifetimeMs ?? 120_000).unref();
  return { port, connections: () => count, close };
}
