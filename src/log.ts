import { pino, stdSerializers, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

export interface LogOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
  /** Extra redact paths (from secret OptionSpecs). */
  readonly redact?: readonly string[];
  /** Where to write; default stdout (fd 1) for json, stderr-safe pretty stream otherwise. */
  readonly destination?: DestinationStream;
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

/** The only place pino is configured. Errors are logged with their whole cause chain. */
export function createLogger(o: LogOptions): Logger {
  const redact = { paths: [...BASE_REDACT, ...(o.redact ?? [])], censor: '***' };
  const serializers = { err: stdSerializers.errWithCause };
  if (o.destination) {
    return pino({ level: o.level, redact, serializers, base: undefined }, o.destination);
  }
  if (o.format === 'pretty') {
    return pino({
      level: o.level,
      redact,
      serializers,
      base: undefined,
      transport: {
        target: 'pino-pretty',
        options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ level: o.level, redact, serializers, base: { pid: process.pid } });
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
