/**
 * A backend as the core sees it: its declaration (sources/<kind>.ts) with its
 * option table read, its parse and create bound together, so the registry is a
 * plain list with no casts and the core never holds a backend's own option type.
 */
import { readOptions } from '../option-values.js';
import type { OptionSpec, RawOptions } from '../options.js';
import type { Source, SourceDeps, SourceFactory } from './types.js';

/** A remote the flags chose and a backend accepted: what it needs to open it, nothing read yet. */
export interface BoundSource {
  readonly kind: string;
  /** The proxy its requests go through (--proxy, HTTP_PROXY…), or null. */
  readonly proxy: string | null;
  /** Creates the source (no I/O until its first call); its logs carry `component: source, source: <kind>` once. */
  open(deps: SourceDeps): Source;
}

export interface Backend {
  readonly kind: string;
  readonly schemes: readonly string[];
  readonly options: readonly OptionSpec[];
  /** Paddle's `--type` names it answers to (none: --remote only). */
  readonly paddleTypes: readonly string[];
  /** Paddle's flags → its remote URL, for one of paddleTypes. */
  paddleUrl(type: string, path: string, raw: RawOptions): { readonly url: string; readonly flag: string };
  /** Reads its options from `raw` and validates `remote` (ConfigError; no I/O). */
  bind(remote: URL, raw: RawOptions, text: string): BoundSource;
}

export function backend<O extends object, const T extends readonly OptionSpec[]>(f: SourceFactory<O, T>): Backend {
  return {
    kind: f.kind,
    schemes: f.schemes,
    options: f.options,
    paddleTypes: f.paddle?.types ?? [],
    paddleUrl(type, path, raw) {
      if (!f.paddle) throw new Error(`${f.kind} has no Paddle --type`);
      return f.paddle.url(type, path, readOptions(f.options, raw));
    },
    bind(remote, raw, text) {
      const opts = f.parse(remote, readOptions(f.options, raw), text);
      return {
        kind: f.kind,
        proxy: f.proxy?.(opts) ?? null,
        open: (deps) => f.create(opts, { ...deps, log: deps.log.child({ component: 'source', source: f.kind }) }),
      };
    },
  };
}
