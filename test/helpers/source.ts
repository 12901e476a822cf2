/**
 * A backend's source the way the CLI makes one: its option table read from raw
 * strings (readOptions), then its parse and create, bound by the registry's
 * backend(). Tests pass raw values by kebab name, as flags or env would.
 */
import { readOptions } from '../../src/option-values.js';
import type { OptionSpec, RawOptions } from '../../src/options.js';
import { backend } from '../../src/sources/backend.js';
import type { Source, SourceDeps, SourceFactory } from '../../src/sources/types.js';

/** The factory's parsed options for `url` and the raw flags. */
export function parseWith<O extends object, const T extends readonly OptionSpec[]>(f: SourceFactory<O, T>, url: string | URL, raw: RawOptions = {}): O {
  const text = String(url);
  return f.parse(typeof url === 'string' ? new URL(text.replace(/^(s?webhdfs:\/\/)[^/]*,[^/]*/i, '$1placeholder')) : url, readOptions(f.options, raw), text);
}

/** A source over `url`, as the registry opens it (its child logger included). */
export function sourceWith<O extends object, const T extends readonly OptionSpec[]>(
  f: SourceFactory<O, T>,
  url: string | URL,
  raw: RawOptions,
  deps: SourceDeps,
): Source {
  const text = String(url);
  const u = typeof url === 'string' ? new URL(text.replace(/^(s?webhdfs:\/\/)[^/]*,[^/]*/i, '$1placeholder')) : url;
  return backend(f).bind(u, raw, text).open(deps);
}
