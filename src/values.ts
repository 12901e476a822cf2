/**
 * The core's values: its option table read once (option-values.ts), plus what
 * depends on several flags or on the terminal. Each error names its flag.
 */
import { coreOptions } from './core-options.js';
import { ConfigError } from './errors.js';
import { readOptions, type Values } from './option-values.js';
import type { RawOptions } from './options.js';

type Read = Values<typeof coreOptions>;

/** Derived below: the rest of CoreValues is the table's values as read. */
type Derived = 'logLevel' | 'logFormat' | 'progress' | 'signal' | 'partSize' | 'localTimestampFile' | 'touchTimestamp';

export type CoreValues = Omit<Read, Derived> & {
  /** --log-level, or `debug` with --debug. */
  readonly logLevel: Read['logLevel'];
  /** --log-format, else pretty on a TTY. */
  readonly logFormat: 'json' | 'pretty';
  /** --progress, else on when stderr is a TTY. */
  readonly progress: boolean;
  /** --signal as SIGNAME (`hup` → `SIGHUP`). */
  readonly signal: string | null;
  /** --part-size; unset = 64M (config.ts turns it off through a proxy unless given). */
  readonly partSize: number;
  /** --part-size was given: parts for every source that has ranges; else only where features.partsByDefault. */
  readonly partSizeGiven: boolean;
  /** The timestamp file inside the model, or null with --no-touch-timestamp. */
  readonly timestampFile: string | null;
};

/** --part-size when it is not given. */
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;

export function parseValues(raw: RawOptions): CoreValues {
  const v = readOptions(coreOptions, raw);
  const { signal, pidfile, pid } = v;
  if (signal !== null && pidfile === null && pid === null) throw new ConfigError('signal', 'needs --pidfile FILE or --pid N');
  if (signal === null && (pidfile !== null || pid !== null)) throw new ConfigError(pidfile !== null ? 'pidfile' : 'pid', 'needs --signal SIG');
  const { localTimestampFile, touchTimestamp, ...rest } = v;
  return {
    ...rest,
    logLevel: v.debug ? 'debug' : v.logLevel,
    logFormat: v.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    progress: v.progress ?? process.stderr.isTTY === true,
    signal: signal === null ? null : signal.toUpperCase().replace(/^(?!SIG)/, 'SIG'),
    partSize: v.partSize ?? DEFAULT_PART_SIZE,
    partSizeGiven: v.partSize !== null,
    timestampFile: touchTimestamp ? localTimestampFile : null,
  };
}
