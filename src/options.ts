/**
 * Options are data. Every part of model-monitor (the core, the remote, each
 * source, the preheat command) declares its flags once, as a typed table of
 * OptionSpec; commander flags, MODEL_MONITOR_* env vars, config-file keys,
 * --help, the README's tables, the Paddle Serving spellings, --print-config
 * masking and log redaction are all generated from it, and readOptions()
 * (option-values.ts) turns a table and the raw strings into typed values.
 */
export type OptionKind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'duration' | 'bytes';

export interface OptionSpec {
  /** kebab-case long name without dashes: `local-path`. */
  readonly name: string;
  /** Other spellings (Paddle Serving's): `ftp_ip`, `local_donefile_name`. Underscore forms of `name` are implicit. */
  readonly aliases?: readonly string[];
  /**
   * How the value is read: `duration` is SECONDS typed and milliseconds parsed
   * (its value is named `<name>Ms`), `bytes` a size like 50M, `list` repeatable.
   */
  readonly kind: OptionKind;
  readonly help: string;
  /** Default as the user would type it; absent = unset (null). The only place a default is written. */
  readonly default?: string | boolean;
  /** Allowed values for a string option. */
  readonly choices?: readonly string[];
  /** Bounds, inclusive: numbers as typed, durations in seconds (at most a day unless said), sizes in bytes. */
  readonly min?: number;
  readonly max?: number;
  /** A size of `0` turns the feature off (allowed below `min`). */
  readonly zeroOff?: boolean;
  /** A further check of a string value: why it is refused, or null. */
  readonly check?: (value: string) => string | null;
  /** A password, key or token: masked in --print-config, redacted in logs. */
  readonly secret?: boolean;
  /** Shown in --help as the value's name: `SECONDS`. */
  readonly metavar?: string;
  /** Which group --help and the README list it under. */
  readonly group?: string;
}

/** Raw values by option name (kebab-case), before parsing; lists joined with NUL. */
export type RawOptions = Readonly<Record<string, string | undefined>>;

export const LIST_SEPARATOR = '\u0000';

/** `local-path` → `MODEL_MONITOR_LOCAL_PATH`. */
export function envName(name: string): string {
  return `MODEL_MONITOR_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** `local_path` / `localPath` / `local-path` → `local-path`. */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/_/g, '-')
    .toLowerCase();
}

/** `local-path` → `localPath`. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Mask for secrets wherever a config is shown. */
export const MASK = '***';

/** Masks the password of a URL (`ftp://u:***@h/`) for display; anything else is returned as it is. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (!u.password) return raw;
    u.password = MASK;
    return u.toString();
  } catch {
    return raw;
  }
}

/** `ftp://h:21/` + `uci_housing_model` → `ftp://h:21/uci_housing_model`: one slash between, whatever each side has. */
export function joinDisplay(base: string, rel: string): string {
  if (!rel) return base;
  return `${base.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

/**
 * Log redaction paths for the secret options of `specs`: the typed value
 * (`ftpPassword`) and the raw one (`raw["ftp-password"]`), at the top of a log
 * object or one level down (`config.ftpPassword`).
 */
export function redactPaths(specs: readonly OptionSpec[]): string[] {
  return specs.filter((s) => s.secret).flatMap((s) => [camel(s.name), `*.${camel(s.name)}`, `raw["${s.name}"]`, `*.raw["${s.name}"]`]);
}
