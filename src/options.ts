/**
 * Options are data. Every part of model-monitor (the core, each source, each
 * swap strategy and reload trigger) declares its flags once as OptionSpec[];
 * commander flags, MODEL_MONITOR_* env vars, config-file keys, --help, the
 * Paddle Serving spellings and log redaction are all generated from that.
 */
export type OptionKind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'duration' | 'bytes';

export interface OptionSpec {
  /** kebab-case long name without dashes: `local-path`. */
  readonly name: string;
  /** Other spellings (Paddle Serving's): `ftp_ip`, `local_donefile_name`. Underscore forms of `name` are implicit. */
  readonly aliases?: readonly string[];
  readonly kind: OptionKind;
  readonly help: string;
  /** Default as the user would type it; absent = unset. */
  readonly default?: string | boolean;
  /** Allowed values for a string option. */
  readonly choices?: readonly string[];
  /** A password, key or token: masked in --print-config, redacted in logs. */
  readonly secret?: boolean;
  /** Shown in --help as the value's name: `SECONDS`. */
  readonly metavar?: string;
  /** Which group --help lists it under. */
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

/** Mask for secrets wherever a config is shown. */
export const MASK = '***';

/** Strips `user:password@` from a URL for display; leaves non-URLs alone. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = MASK;
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
