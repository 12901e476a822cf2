/**
 * Debian's Squid as a fleet's shared cache tier, on 127.0.0.1 and a random
 * port: `-N` (foreground, one process), its own `-f` config under a temp dir,
 * memory cache only (no cache_dir), and the fleet cache rules of
 * examples/squid/squid.conf (collapsed_forwarding, reload_into_ims,
 * version-keyed URLs kept for good), read from that file.
 * Its access log says what it answered from memory and what it fetched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports.js';

export const SQUID = process.env.SQUID_BIN ?? '/usr/sbin/squid';

export function squidMissing(): string | null {
  return existsSync(SQUID) ? null : `${SQUID} is not installed (apt-get install squid)`;
}

export const EXAMPLE_CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'squid', 'squid.conf');

/** The fleet cache rules of examples/squid/squid.conf (between its markers): what the tests run is what the docs show. */
export async function fleetCacheRules(): Promise<string[]> {
  const text = await readFile(EXAMPLE_CONFIG, 'utf8');
  const m = /^# --- fleet cache rules ---\n([\s\S]*?)^# --- end of fleet cache rules ---$/m.exec(text);
  if (!m) throw new Error(`${EXAMPLE_CONFIG}: no fleet cache rules markers`);
  return m[1]!.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

export interface SquidLogLine {
  /** Unix time (s) the answer ended, and how long it took (ms). */
  readonly time: number;
  readonly elapsedMs: number;
  /** TCP_MISS, TCP_HIT, TCP_MEM_HIT, TCP_CF_HIT, TCP_REFRESH_UNMODIFIED … */
  readonly code: string;
  readonly status: number;
  readonly bytes: number;
  readonly method: string;
  readonly url: string;
  /** HIER_DIRECT: fetched from the origin; HIER_NONE: answered without it (memory, or a fetch in flight). */
  readonly hierarchy: string;
}

export interface Squid {
  /** `http://127.0.0.1:PORT`, for --proxy. */
  readonly url: string;
  readonly configFile: string;
  /** The access log so far (Squid buffers it: the last lines may not be there yet). */
  log(): Promise<SquidLogLine[]>;
  /** Stops Squid and returns its whole access log. */
  stop(): Promise<SquidLogLine[]>;
}

export function squidConfig(dir: string, port: number, memMb: number, rules: readonly string[]): string {
  return [
    `http_port 127.0.0.1:${port}`,
    'visible_hostname model-monitor-test',
    `pid_filename ${path.join(dir, 'squid.pid')}`,
    `cache_log ${path.join(dir, 'cache.log')}`,
    `access_log stdio:${path.join(dir, 'access.log')} squid`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    `cache_mem ${memMb} MB`,
    'maximum_object_size_in_memory 256 MB',
    'maximum_object_size 256 MB',
    ...rules,
    'http_access allow localhost',
    'http_access deny all',
    'shutdown_lifetime 0 seconds',
    'dns_nameservers 127.0.0.1',
    'pinger_enable off',
    'netdb_filename none',
    'via off',
    'forwarded_for delete',
    'logfile_rotate 0',
    'strip_query_terms off',
    '',
  ].join('\n');
}

function parseLog(text: string): SquidLogLine[] {
  const out: SquidLogLine[] = [];
  for (const line of text.split('\n')) {
    // time elapsed client code/status bytes method url ident hierarchy type
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    const [code, status] = f[3]!.split('/');
    out.push({
      time: Number(f[0]),
      elapsedMs: Number(f[1]),
      code: code!,
      status: Number(status),
      bytes: Number(f[4]),
      method: f[5]!,
      url: f[6]!,
      hierarchy: (f[8] ?? '').split('/')[0]!,
    });
  }
  return out;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const group = -child.pid!;
  process.kill(group, 'SIGTERM'); // shutdown_lifetime 0: Squid exits at once
  const t = setTimeout(() => {
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 10_000);
  await exited;
  clearTimeout(t);
}

export async function startSquid(o: { memMb?: number } = {}): Promise<Squid> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-squid-'));
  await chmod(dir, 0o777); // as root Squid runs as its cache_effective_user (proxy) and writes its logs here
  const port = await freePort();
  const configFile = path.join(dir, 'squid.conf');
  await writeFile(configFile, squidConfig(dir, port, o.memMb ?? 1024, await fleetCacheRules()));
  const child = spawn(SQUID, ['-N', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) {
          const log = await readFile(path.join(dir, 'cache.log'), 'utf8').catch(() => '');
          throw new Error(`squid exited ${child.exitCode}: ${(stderr + log).slice(-2000)}`);
        }
        return listening(port);
      },
      'squid listening',
      30_000,
    );
  } catch (err) {
    await stopChild(child, exited);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const log = async () => parseLog(await readFile(path.join(dir, 'access.log'), 'utf8').catch(() => ''));
  return {
    url: `http://127.0.0.1:${port}`,
    configFile,
    log,
    async stop() {
      await stopChild(child, exited);
      const all = await log();
      await rm(dir, { recursive: true, force: true });
      return all;
    },
  };
}
