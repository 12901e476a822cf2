import { createRequire } from 'node:module';
import { pino, stdSerializers, type Logger as PinoLogger, type DestinationStream } from 'pino';
import type * as PinoPretty from 'pino-pretty';
import type { Terminal } from './terminal.js';

export type Logger = PinoLogger;

export interface LogOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
  /** Extra redact paths (from secret OptionSpecs). */
  readonly redact?: readonly string[];
  /** Where to write; default stdout (fd 1) for json, stderr-safe pretty stream otherwise. */
  readonly destination?: DestinationStream;
  /**
   * The terminal shared with the progress bar: lines are written through it on
   * the main thread (stdout a TTY, or --log-format pretty), so the bar is
   * cleared and redrawn around each one.
   */
  readonly terminal?: Terminal;
  /** Colours in pretty lines (default: stdout is a TTY). */
  readonly colorize?: boolean;
}

const BASE_REDACT = [
  'password',
  '*.password',
  'secretAccessKey',
  '*.secretAccessKey',
  'token',
  '*.token',
  'config.ftp-password',
  'config.s3-secret-access-key',
  'config.hdfs-token',
  'headers.authorization',
  '*.headers.authorization',
];

const detailed = (level: string) => level === 'debug' || level === 'trace';

type Serialized = { stack?: string; cause?: unknown; [k: string]: unknown };

/** The error and its cause chain without stack traces: they are for --debug. */
function withoutStacks(e: Serialized): Serialized {
  const { stack: _stack, cause, ...rest } = e;
  return cause && typeof cause === 'object' ? { ...rest, cause: withoutStacks(cause as Serialized) } : { ...rest, ...(cause !== undefined ? { cause } : {}) };
}

const require = createRequire(import.meta.url);

/**
 * Pretty lines, formatted on the main thread. Below --debug one line per
 * event: time, level, message (and the error's message for warnings and
 * errors). With --debug every field, and errors with their stacks.
 */
function prettyLines(level: string, colorize: boolean): (line: string) => string {
  const { prettyFactory } = require('pino-pretty') as typeof PinoPretty;
  if (detailed(level)) return prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' });
  return prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,err',
    hideObject: true,
    messageFormat: (log, key) => {
      const msg = String(log[key] ?? '');
      const err = (log['err'] as { message?: unknown } | undefined)?.message;
      return typeof err === 'string' && Number(log['level']) >= 40 && !msg.includes(err) ? `${msg}: ${err}` : msg;
    },
  });
}

/** The only place pino is configured. Errors are logged with their whole cause chain. */
export function createLogger(o: LogOptions): Logger {
  const redact = { paths: [...BASE_REDACT, ...(o.redact ?? [])], censor: '***' };
  const err = detailed(o.level) ? stdSerializers.errWithCause : (e: Error) => withoutStacks(stdSerializers.errWithCause(e) as Serialized);
  const serializers = { err };
  if (o.destination) {
    return pino({ level: o.level, redact, serializers, base: undefined }, o.destination);
  }
  if (o.format === 'pretty') {
    const pretty = prettyLines(o.level, o.colorize ?? process.stdout.isTTY === true);
    const print = o.terminal ? (s: string) => o.terminal!.print(s) : (s: string) => void process.stdout.write(s);
    return pino({ level: o.level, redact, serializers, base: undefined }, { write: (line: string) => print(pretty(line)) });
  }
  if (o.terminal && process.stdout.isTTY) {
    // JSON on a terminal: through the terminal too, so a progress bar never splits a line.
    const t = o.terminal;
    return pino({ level: o.level, redact, serializers, base: { pid: process.pid } }, { write: (line: string) => t.print(line) });
  }
  return pino({ level: o.level, redact, serializers, base: { pid: process.pid } });
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
