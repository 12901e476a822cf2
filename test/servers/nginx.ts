/**
 * Debian's nginx serving a directory with `autoindex on`, on 127.0.0.1 and a
 * random port, every path (pid, logs, temp dirs) under a temp prefix,
 * `daemon off;` so the child is nginx itself. Run as root it keeps `user root;`
 * (the workers must read files under a 0700 mkdtemp dir).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './ports.js';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxHandle {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  /** With `accessLog`: every answer so far, with the body bytes nginx really sent. */
  accessLog(): Promise<NginxLogLine[]>;
  close(): Promise<void>;
}

export interface NginxLogLine {
  readonly method: string;
  /** As requested, query string included. */
  readonly uri: string;
  readonly status: number;
  /** $body_bytes_sent: what went over the wire, headers excluded. */
  readonly bytes: number;
}

export interface NginxOptions {
  /** Log each request with $body_bytes_sent (what an origin behind a cache really sent). */
  readonly accessLog?: boolean;
}

/** Why nginx cannot run here, or null when it can. */
export async function nginxUnavailable(): Promise<string | null> {
  try {
    await access(NGINX_BIN, constants.X_OK);
    return null;
  } catch {
    return `${NGINX_BIN} not found or not executable (apt-get install nginx-light)`;
  }
}

const accessLogFile = (prefix: string) => path.join(prefix, 'access.log');

function config(prefix: string, root: string, port: number, o: NginxOptions): string {
  const asRoot = process.getuid?.() === 0;
  const tmp = (n: string) => `${n}_temp_path ${path.join(prefix, n)};`;
  const log = o.accessLog
    ? `log_format bytes '$request_method $request_uri $status $body_bytes_sent';\n  access_log ${accessLogFile(prefix)} bytes;`
    : 'access_log off;';
  return `
${asRoot ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${path.join(prefix, 'nginx.pid')};
error_log ${path.join(prefix, 'error.log')} warn;
events { worker_connections 256; }
http {
  ${log}
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp).join('\n  ')}
  default_type application/octet-stream;
  charset utf-8;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { autoindex on; }
  }
}
`;
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'HEAD', timeout: 2_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) > 0);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // nginx: fast shutdown
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function readAccessLog(prefix: string): Promise<NginxLogLine[]> {
  const text = await readFile(accessLogFile(prefix), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [method, uri, status, bytes] = l.split(' ');
      return { method: method!, uri: uri!, status: Number(status), bytes: Number(bytes) };
    });
}

async function tryStart(prefix: string, root: string, o: NginxOptions): Promise<Omit<NginxHandle, 'accessLog'>> {
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(conf, config(prefix, root, port, o));
  const child = spawn(NGINX_BIN, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) {
          const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
          throw new Error(`nginx exited ${child.exitCode}: ${(stderr + log).slice(-2000)}`);
        }
        return probe(`${url}/`);
      },
      'nginx to listen',
      30_000,
    );
  } catch (err) {
    await stop(child, exited);
    throw err;
  }
  return { url, close: () => stop(child, exited) };
}

/** Starts nginx over `root`; retries on another port if the chosen one was taken meanwhile. */
export async function startNginx(root: string, o: NginxOptions = {}): Promise<NginxHandle> {
  const prefix = await mkdtemp(path.join(tmpdir(), 'mm-nginx-'));
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await tryStart(prefix, root, o);
      return {
        url: h.url,
        accessLog: () => readAccessLog(prefix),
        async close() {
          await h.close();
          await rm(prefix, { recursive: true, force: true });
        },
      };
    } catch (err) {
      last = err;
    }
  }
  await rm(prefix, { recursive: true, force: true });
  throw last;
}
