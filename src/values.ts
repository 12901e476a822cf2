/** Typed parsing of the core's raw option strings. Each error names its flag. */
import { ConfigError } from './errors.js';
import { LIST_SEPARATOR, type RawOptions } from './options.js';

export interface CoreValues {
  readonly intervalMs: number;
  readonly detect: 'timestamp' | 'content';
  readonly verify: 'auto' | 'size' | 'md5' | 'none';
  readonly manifest: string | null;
  readonly validate: string | null;
  readonly validateTimeoutMs: number;
  readonly swap: 'rename' | 'symlink' | 'versioned';
  readonly keepBackups: number;
  readonly timestampFile: string | null;
  readonly unpackedFilename: string | null;
  readonly maxUnpackRatio: number;
  readonly touch: readonly string[];
  readonly exec: string | null;
  readonly execTimeoutMs: number;
  readonly signal: string | null;
  readonly pidfile: string | null;
  readonly pid: number | null;
  readonly httpPost: string | null;
  readonly rollbackOnReloadFailure: boolean;
  readonly fsync: boolean;
  readonly verifyOnStart: boolean;
  readonly concurrency: number;
  readonly partSize: number;
  readonly bwlimit: number;
  readonly incremental: boolean;
  readonly timeoutMs: number;
  readonly minRate: number;
  readonly retries: number;
  readonly maxFailures: number | null;
  readonly metricsPort: number | null;
  readonly metricsHost: string;
  readonly logLevel: string;
  readonly logFormat: 'json' | 'pretty';
  readonly progress: boolean;
  readonly json: boolean;
  readonly printConfig: boolean;
  /** --spread: the longest random wait between seeing a change and pulling it (0 = none). */
  readonly spreadMs: number;
}

export function num(raw: RawOptions, flag: string, o: { min?: number; max?: number; int?: boolean } = {}): number | null {
  const v = raw[flag];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || (o.int && !Number.isInteger(n))) {
    throw new ConfigError(flag, `expected ${o.int ? 'a whole number' : 'a number'}, got "${v}"`);
  }
  if (o.min !== undefined && n < o.min) throw new ConfigError(flag, `must be at least ${o.min}, got ${v}`);
  if (o.max !== undefined && n > o.max) throw new ConfigError(flag, `must be at most ${o.max}, got ${v}`);
  return n;
}

export function bool(raw: RawOptions, flag: string): boolean {
  const v = raw[flag];
  if (v === undefined || v === '') return false;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new ConfigError(flag, `expected true or false, got "${v}"`);
}

export function choice<T extends string>(raw: RawOptions, flag: string, allowed: readonly T[]): T | null {
  const v = raw[flag];
  if (v === undefined) return null;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(flag, `must be one of ${allowed.join(', ')}, got "${v}"`);
  }
  return v as T;
}

export function list(raw: RawOptions, flag: string): string[] {
  const v = raw[flag];
  return v ? v.split(LIST_SEPARATOR).filter((x) => x !== '') : [];
}

const MAX_BYTES = 1024 ** 5;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `50M` → 52428800; `1.5g`, `800k`, `1000` bytes/s. */
export function parseBytes(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?(\/s)?$/i.exec(v.trim());
  if (!m) throw new ConfigError(flag, `expected a size like 50M, 800k or 1048576, got "${v}"`);
  const n = Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!;
  if (n <= 0) throw new ConfigError(flag, `must be positive, got "${v}"`);
  if (n > MAX_BYTES) throw new ConfigError(flag, `must be at most 1P, got "${v}"`);
  return Math.floor(n);
}

/** --part-size: 0 turns parts off; anything else is at least 1 MiB (smaller parts cost more requests than they save). */
function partSize(v: string | undefined): number {
  if (v === undefined || v === '') return 64 * 1024 * 1024;
  if (/^0+$/.test(v.trim())) return 0;
  const n = parseBytes('part-size', v);
  if (n < 1024 * 1024) throw new ConfigError('part-size', `must be 0 (off) or at least 1M, got "${v}"`);
  return n;
}

function str(raw: RawOptions, flag: string): string | null {
  const v = raw[flag];
  return v === undefined || v === '' ? null : v;
}

const ms = (s: number) => Math.round(s * 1000);

/** Every duration has a sane ceiling: a day (a timer cannot hold more than ~24.8 days; 1e12 s would fire at once, in a loop). */
export const MAX_SECONDS = 86_400;

function seconds(raw: RawOptions, flag: string, dflt: number, min: number): number {
  return ms(num(raw, flag, { min, max: MAX_SECONDS }) ?? dflt);
}

/** --min-rate: `0` turns the rate floor off (only a full stall fails a transfer). */
function minRate(v: string | undefined): number {
  if (v === undefined || v === '') return 1024;
  if (/^0+$/.test(v.trim())) return 0;
  return parseBytes('min-rate', v);
}

export function parseValues(raw: RawOptions): CoreValues {
  const debug = bool(raw, 'debug');
  const signal = str(raw, 'signal');
  const pidfile = str(raw, 'pidfile');
  const pid = num(raw, 'pid', { int: true, min: 1, max: 2 ** 31 - 1 });
  if (signal && !pidfile && pid === null) throw new ConfigError('signal', 'needs --pidfile FILE or --pid N');
  if (!signal && (pidfile || pid !== null)) throw new ConfigError(pidfile ? 'pidfile' : 'pid', 'needs --signal SIG');
  if (signal && !/^(SIG)?[A-Z0-9]+$/i.test(signal)) throw new ConfigError('signal', `not a signal name: "${signal}"`);
  const tsFile = str(raw, 'local-timestamp-file');
  if (tsFile && (tsFile.includes('/') || tsFile === '..')) {
    throw new ConfigError('local-timestamp-file', `must be a file name inside the model, got "${tsFile}"`);
  }
  const httpPost = str(raw, 'http-post');
  if (httpPost && !/^https?:\/\//.test(httpPost)) throw new ConfigError('http-post', `expected an http(s):// URL, got "${httpPost}"`);
  const logFormat = choice(raw, 'log-format', ['json', 'pretty'] as const) ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const progress = raw['progress'] === undefined ? process.stderr.isTTY === true : bool(raw, 'progress');
  return {
    intervalMs: seconds(raw, 'interval', 10, 0.01),
    detect: choice(raw, 'detect', ['timestamp', 'content'] as const) ?? 'timestamp',
    verify: choice(raw, 'verify', ['auto', 'size', 'md5', 'none'] as const) ?? 'auto',
    manifest: str(raw, 'manifest'),
    validate: str(raw, 'validate'),
    validateTimeoutMs: seconds(raw, 'validate-timeout', 300, 0.1),
    swap: choice(raw, 'swap', ['rename', 'symlink', 'versioned'] as const) ?? 'rename',
    keepBackups: num(raw, 'keep-backups', { int: true, min: 0, max: 1000 }) ?? 2,
    timestampFile: bool(raw, 'touch-timestamp') || raw['touch-timestamp'] === undefined ? (tsFile ?? 'fluid_time_file') : null,
    unpackedFilename: str(raw, 'unpacked-filename'),
    maxUnpackRatio: num(raw, 'max-unpack-ratio', { int: true, min: 0, max: 1_000_000 }) ?? 256,
    touch: list(raw, 'touch'),
    exec: str(raw, 'exec'),
    execTimeoutMs: seconds(raw, 'exec-timeout', 60, 0.1),
    signal: signal ? signal.toUpperCase().replace(/^(?!SIG)/, 'SIG') : null,
    pidfile,
    pid,
    httpPost,
    rollbackOnReloadFailure: bool(raw, 'rollback-on-reload-failure'),
    fsync: bool(raw, 'fsync'),
    verifyOnStart: bool(raw, 'verify-on-start'),
    concurrency: num(raw, 'concurrency', { int: true, min: 1, max: 256 }) ?? 4,
    partSize: partSize(raw['part-size']),
    bwlimit: raw['bwlimit'] ? parseBytes('bwlimit', raw['bwlimit']) : 0,
    incremental: bool(raw, 'incremental'),
    timeoutMs: seconds(raw, 'timeout', 60, 0.1),
    minRate: minRate(raw['min-rate']),
    retries: num(raw, 'retries', { int: true, min: 0, max: 100 }) ?? 5,
    maxFailures: num(raw, 'max-failures', { int: true, min: 1, max: 1_000_000 }),
    metricsPort: num(raw, 'metrics-port', { int: true, min: 0, max: 65535 }),
    metricsHost: str(raw, 'metrics-host') ?? '0.0.0.0',
    logLevel: debug ? 'debug' : (choice(raw, 'log-level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const) ?? 'info'),
    logFormat,
    progress,
    json: bool(raw, 'json'),
    printConfig: bool(raw, 'print-config'),
    spreadMs: seconds(raw, 'spread', 0, 0),
  };
}
