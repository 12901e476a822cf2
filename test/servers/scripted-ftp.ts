/**
 * A minimal FTP server whose RETR misbehaves on cue: enough of RFC 959 for
 * basic-ftp's login and for a download (SIZE, EPSV, PASV, REST, RETR), files
 * held in memory, and a `retr` mode the test sets: stall after N bytes, send
 * more than SIZE said, drop both connections, never send the final reply,
 * answer 451 or 550 after 150. It records every command and counts control
 * connections, so a test can see REST, the EPSV → PASV fallback, and whether
 * a connection was reused or closed.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

export type RetrMode =
  | { readonly kind: 'ok' }
  | { readonly kind: 'stall'; readonly after: number }
  | { readonly kind: 'extra'; readonly bytes: number }
  | { readonly kind: 'drop'; readonly after: number }
  | { readonly kind: 'no-final' }
  | { readonly kind: 'reply'; readonly after: number; readonly line: string };

export interface ScriptedFtp {
  readonly port: number;
  readonly files: Map<string, Buffer>;
  /** What the next RETRs do (default ok). */
  retr: RetrMode;
  /** false: EPSV is answered 502 (basic-ftp then uses PASV). */
  epsv: boolean;
  /** The host a PASV reply names (default 127.0.0.1). */
  pasvHost: string;
  readonly commands: string[];
  /** Control connections accepted so far / open now. */
  connections(): number;
  open(): number;
  close(): Promise<void>;
}

export async function startScriptedFtp(): Promise<ScriptedFtp> {
  const sockets = new Set<Socket>();
  const servers = new Set<Server>();
  let accepted = 0;
  const state: ScriptedFtp = {
    port: 0,
    files: new Map(),
    retr: { kind: 'ok' },
    epsv: true,
    pasvHost: '127.0.0.1',
    commands: [],
    connections: () => accepted,
    open: () => [...sockets].filter((s) => !s.destroyed && s.localPort === state.port).length,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([...servers].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    },
  };
  const control = createServer((sock) => {
    accepted++;
    track(sock);
    session(sock);
  });
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  };

  function session(ctl: Socket): void {
    let data: Promise<Socket> | null = null;
    let rest = 0;
    let buf = '';
    const reply = (line: string) => ctl.destroyed || ctl.write(`${line}\r\n`);
    reply('220 scripted');
    let queue = Promise.resolve();
    ctl.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        queue = queue.then(() => command(line));
      }
    });
    // One command at a time, in order (a passive listener must be up before its reply).
    async function command(line: string): Promise<void> {
      {
        state.commands.push(line);
        const [cmd = '', ...args] = line.split(' ');
        const arg = args.join(' ');
        switch (cmd.toUpperCase()) {
          case 'USER':
            reply('331 password please');
            break;
          case 'PASS':
            reply('230 in');
            break;
          case 'FEAT':
            reply('211-Features:\r\n EPSV\r\n SIZE\r\n REST STREAM\r\n211 End');
            break;
          case 'SIZE': {
            const f = state.files.get(arg);
            reply(f ? `213 ${f.length}` : '550 no such file');
            break;
          }
          case 'EPSV':
          case 'PASV': {
            if (cmd === 'EPSV' && !state.epsv) {
              reply('502 no EPSV here');
              break;
            }
            const { port, conn } = await listenOnce();
            data = conn;
            const h = state.pasvHost.split('.').join(',');
            reply(cmd === 'EPSV' ? `229 Extended (|||${port}|)` : `227 Passive (${h},${port >> 8},${port & 255})`);
            break;
          }
          case 'REST':
            rest = Number(arg);
            reply('350 restarting');
            break;
          case 'RETR': {
            const f = state.files.get(arg);
            const conn = data;
            data = null;
            const from = rest;
            rest = 0;
            if (!f || !conn) reply(f ? '425 no data connection' : '550 no such file');
            else void conn.then((s) => retr(ctl, s, f.subarray(from), reply));
            break;
          }
          case 'QUIT':
            reply('221 bye');
            ctl.end();
            break;
          default:
            reply(/^(TYPE|STRU|OPTS|CWD|PBSZ)$/i.test(cmd) ? '200 ok' : '502 not here');
        }
      }
    }
  }

  async function listenOnce(): Promise<{ port: number; conn: Promise<Socket> }> {
    const srv = createServer();
    servers.add(srv);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const conn = once(srv, 'connection').then(([s]) => {
      track(s as Socket);
      srv.close();
      servers.delete(srv);
      return s as Socket;
    });
    const addr = srv.address();
    return { port: typeof addr === 'object' && addr ? addr.port : 0, conn };
  }

  function retr(ctl: Socket, s: Socket, body: Buffer, reply: (line: string) => void): void {
    const mode = state.retr;
    reply('150 opening');
    switch (mode.kind) {
      case 'ok':
        s.end(body, () => reply('226 done'));
        break;
      case 'stall':
        s.write(body.subarray(0, mode.after)); // and nothing more: the socket stays open
        break;
      case 'extra':
        s.end(Buffer.concat([body, Buffer.alloc(mode.bytes, 7)]), () => reply('226 done'));
        break;
      case 'drop':
        s.write(body.subarray(0, mode.after), () => {
          s.destroy();
          ctl.destroy();
        });
        break;
      case 'no-final':
        s.end(body);
        break;
      case 'reply':
        s.end(body.subarray(0, mode.after), () => reply(mode.line));
        break;
    }
  }

  control.listen(0, '127.0.0.1');
  await once(control, 'listening');
  servers.add(control);
  const addr = control.address();
  return Object.assign(state, { port: typeof addr === 'object' && addr ? addr.port : 0 });
}
