/**
 * The one reader of option values: a table of OptionSpec and the raw strings
 * (flag > env > config file, see config.ts) → typed values, every one
 * validated, each error a ConfigError naming its flag. One boolean rule, one
 * size syntax, one place for defaults (the spec's `default`). The result's
 * type is derived from the table: `{ name: 'keep-backups', kind: 'int',
 * default: '2' }` reads as `keepBackups: number`, a duration `timeout` as
 * `timeoutMs: number`, an option without a default as `… | null`.
 */
import { ConfigError } from './errors.js';
import { camel, LIST_SEPARATOR, type OptionSpec, type RawOptions } from './options.js';

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type KeyOf<S extends OptionSpec> = S['kind'] extends 'duration' ? `${Camel<S['name']>}Ms` : Camel<S['name']>;
type Plain<S extends OptionSpec> = S['kind'] extends 'bool'
  ? boolean
  : S['kind'] extends 'list'
    ? readonly string[]
    : S['kind'] extends 'string'
      ? S extends { readonly choices: readonly (infer C extends string)[] }
        ? C
        : string
      : number;
type ValueOf<S extends OptionSpec> = S['kind'] extends 'list' ? Plain<S> : S extends { readonly default: string | boolean } ? Plain<S> : Plain<S> | null;

/** The typed values of a table declared `as const satisfies readonly OptionSpec[]`. */
export type Values<T extends readonly OptionSpec[]> = { readonly [S in T[number] as KeyOf<S>]: ValueOf<S> };

/** Every duration has a sane ceiling: a day (a timer cannot hold more than ~24.8 days; 1e12 s would fire at once, in a loop). */
export const MAX_SECONDS = 86_400;

/** The name a spec's value goes by: `keep-backups` → `keepBackups`, a duration `timeout` → `timeoutMs`. */
export function valueKey(s: OptionSpec): string {
  return s.kind === 'duration' ? `${camel(s.name)}Ms` : camel(s.name);
}

/** Reads and validates every option of `specs` from `raw` (unset → the spec's default, else null). */
export function readOptions<const T extends readonly OptionSpec[]>(specs: T, raw: RawOptions): Values<T> {
  const out: Record<string, unknown> = {};
  for (const s of specs) out[valueKey(s)] = readValue(s, raw[s.name]);
  return out as Values<T>;
}

/** One option's value: its text (or its default) checked and typed. */
export function readValue(s: OptionSpec, text: string | undefined): unknown {
  const v = text === undefined || text === '' ? (s.default === undefined ? undefined : String(s.default)) : text;
  if (s.kind === 'list') return v === undefined ? [] : v.split(LIST_SEPARATOR).filter((x) => x !== '');
  if (v === undefined) return null;
  switch (s.kind) {
    case 'bool':
      return parseBool(s.name, v);
    case 'int':
    case 'number':
      return bounded(s, parseNumber(s.name, v, s.kind === 'int'), v);
    case 'duration':
      return Math.round(bounded(s, parseNumber(s.name, v, false), v, MAX_SECONDS) * 1000);
    case 'bytes':
      return readSize(s, v);
    case 'string':
      return readString(s, v);
  }
}

/** The boolean rule, for every option of every table: true|1|yes|on, false|0|no|off, any case. */
export function parseBool(flag: string, v: string): boolean {
  if (/^(true|1|yes|on)$/i.test(v.trim())) return true;
  if (/^(false|0|no|off)$/i.test(v.trim())) return false;
  throw new ConfigError(flag, `expected true or false, got "${v}"`);
}

function parseNumber(flag: string, v: string, int: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) {
    throw new ConfigError(flag, `expected ${int ? 'a whole number' : 'a number'}, got "${v}"`);
  }
  return n;
}

function bounded(s: OptionSpec, n: number, v: string, ceiling?: number): number {
  const max = s.max ?? ceiling;
  if (s.min !== undefined && n < s.min) throw new ConfigError(s.name, `must be at least ${s.min}, got ${v}`);
  if (max !== undefined && n > max) throw new ConfigError(s.name, `must be at most ${max}, got ${v}`);
  return n;
}

function readString(s: OptionSpec, v: string): string {
  if (s.choices && !s.choices.includes(v)) throw new ConfigError(s.name, `must be one of ${s.choices.join(', ')}, got "${v}"`);
  const why = s.check?.(v);
  if (why) throw new ConfigError(s.name, why);
  return v;
}

const MAX_BYTES = 1024 ** 5;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `50M` → 52428800; `1.5g`, `800k`, `1000` bytes (or bytes/s). Positive, at most 1P. */
export function parseBytes(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?(\/s)?$/i.exec(v.trim());
  if (!m) throw new ConfigError(flag, `expected a size like 50M, 800k or 1048576, got "${v}"`);
  const n = Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!;
  if (n <= 0) throw new ConfigError(flag, `must be positive, got "${v}"`);
  if (n > MAX_BYTES) throw new ConfigError(flag, `must be at most 1P, got "${v}"`);
  return Math.floor(n);
}

/** 1048576 → `1M`. */
function sizeText(n: number): string {
  for (const [u, f] of [
    ['P', 1024 ** 5],
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['k', 1024],
  ] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}

function readSize(s: OptionSpec, v: string): number {
  if (s.zeroOff && /^0+$/.test(v.trim())) return 0;
  const n = parseBytes(s.name, v);
  if (s.min !== undefined && n < s.min) {
    throw new ConfigError(s.name, `must be ${s.zeroOff ? '0 (off) or ' : ''}at least ${sizeText(s.min)}, got "${v}"`);
  }
  if (s.max !== undefined && n > s.max) throw new ConfigError(s.name, `must be at most ${sizeText(s.max)}, got "${v}"`);
  return n;
}

/** `decodeURIComponent` for a part of a URL flag: bad percent-encoding is a ConfigError naming the flag. */
export function decodeUrlPart(flag: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (err) {
    throw new ConfigError(flag, `bad percent-encoding in ${JSON.stringify(s)}`, { cause: err });
  }
}
