/**
 * Where the model comes from: `--remote URL`, or Paddle's `--type` + flags
 * turned into the same URL. Picks the source factory by scheme (or by Paddle
 * type) and lets it validate its own options.
 */
import { ConfigError } from './errors.js';
import { redactUrl, type RawOptions } from './options.js';
import { joinRemote, safeRelative } from './paths.js';
import type { SourceFactory } from './sources/types.js';

export interface RemoteChoice {
  readonly factory: SourceFactory<object>;
  readonly sourceOptions: object;
  readonly remoteUrl: URL;
  readonly displayUrl: string;
  readonly remoteModel: string;
  readonly remoteDonefile: string;
  /** The proxy the remote's requests go through (--proxy, HTTP_PROXY…), or null. */
  readonly proxy: string | null;
}

/**
 * Through a proxy, whole files unless --part-size is given: a cache stores whole
 * objects, and Squid forwards a ranged request past range_offset_limit without
 * storing anything.
 */
export function wholeFilesOnly(raw: RawOptions, remote: Pick<RemoteChoice, 'proxy'>): boolean {
  return raw['part-size'] === undefined && remote.proxy !== null;
}

function need(raw: RawOptions, flag: string, why: string): string {
  const v = raw[flag];
  if (v === undefined || v === '') throw new ConfigError(flag, `required ${why}`);
  return v;
}

function parseUrl(flag: string, s: string): URL {
  try {
    return new URL(s);
  } catch {
    throw new ConfigError(flag, `not a URL: "${redactUrl(s)}"`);
  }
}

/**
 * `--remote`. WHATWG URLs cannot hold a comma host list (`webhdfs://nn1:9870,nn2:9870/p`):
 * such a source reads the raw string itself; the URL only carries its scheme.
 */
function remoteUrl(s: string): URL {
  try {
    return new URL(s);
  } catch {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\/[^/]*,/i.exec(s)?.[1];
    if (scheme) return new URL(`${scheme}://placeholder/`);
    throw new ConfigError('remote', `not a URL: "${redactUrl(s)}"`);
  }
}

/** Paddle's flags → one URL whose path is the remote root. */
function paddleUrl(type: string, raw: RawOptions): { url: URL; flag: string } {
  const rpath = joinRemote('/', raw['remote-path'] ?? '/');
  switch (type) {
    case 'ftp': {
      const host = need(raw, 'ftp-host', 'with --type ftp');
      const port = raw['ftp-port'] ?? '21';
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        throw new ConfigError('ftp-port', `expected a port 1-65535, got "${port}"`);
      }
      return { url: parseUrl('ftp-host', `ftp://${host.includes(':') ? `[${host}]` : host}:${port}${encodePath(rpath)}`), flag: 'ftp-host' };
    }
    case 'general':
    case 'http': {
      const host = need(raw, 'general-host', `with --type ${type}`).replace(/\/+$/, '');
      return { url: parseUrl('general-host', `${host}${encodePath(rpath)}`), flag: 'general-host' };
    }
    case 'hdfs':
    case 'afs':
      return { url: parseUrl('remote-path', `${type}://${encodePath(rpath)}`), flag: 'type' };
    case 's3':
      return { url: parseUrl('remote-path', `s3:/${encodePath(rpath)}`), flag: 'remote-path' };
    case 'file':
      return { url: parseUrl('remote-path', `file://${encodePath(rpath)}`), flag: 'remote-path' };
    default:
      throw new ConfigError('type', `unknown type "${type}"; one of ftp, general, hdfs, afs, s3, http, file`);
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function pickFactory(url: URL, type: string | undefined, all: readonly SourceFactory<never>[], flag: string): SourceFactory<object> {
  const scheme = url.protocol.replace(/:$/, '');
  const byType = type && (type === 'hdfs' || type === 'afs') ? all.find((f) => f.types.includes(type)) : undefined;
  const f = byType ?? all.find((x) => x.schemes.includes(scheme));
  if (!f) {
    const known = [...new Set(all.flatMap((x) => x.schemes))].join(', ');
    throw new ConfigError(flag, `no source for ${scheme}:// (this build knows ${known})`);
  }
  return f as unknown as SourceFactory<object>;
}

/** True when the flags name a remote at all (`--remote`, or Paddle's `--type`). */
export function remoteGiven(raw: RawOptions): boolean {
  return !!raw['remote'] || !!raw['type'];
}

/**
 * `names: 'optional'` is for the local commands (status, rollback, accept): the remote is
 * only shown, so a missing model or donefile name is left empty instead of refused.
 */
export function buildRemote(raw: RawOptions, all: readonly SourceFactory<never>[], o: { names?: 'required' | 'optional' } = {}): RemoteChoice {
  const type = raw['type'];
  let url: URL;
  let flag: string;
  if (raw['remote'] && type) {
    throw new ConfigError('type', 'conflicts with --remote: give either a --remote URL, or --type with --remote_path (Paddle Serving flags)');
  }
  if (raw['remote']) {
    url = remoteUrl(raw['remote']);
    flag = 'remote';
  } else if (type) {
    ({ url, flag } = paddleUrl(type, raw));
  } else {
    throw new ConfigError('remote', 'required: a --remote URL, or --type with --remote_path (Paddle Serving flags)');
  }
  const optional = o.names === 'optional';
  const modelRaw = optional ? (raw['remote-model-name'] ?? '') : need(raw, 'remote-model-name', '(the remote model directory or archive)');
  const doneRaw = optional ? (raw['remote-donefile-name'] ?? '') : need(raw, 'remote-donefile-name', '(the remote donefile)');
  const factory = pickFactory(url, type, all, flag);
  const sourceOptions = factory.parse(url, raw);
  if (raw['proxy'] && !factory.proxy) throw new ConfigError('proxy', `${factory.kind} remotes do not go through an HTTP proxy (only http(s)://, webhdfs:// and s3:// do)`);
  return {
    factory,
    sourceOptions,
    remoteUrl: url,
    displayUrl: redactUrl(url.toString()),
    remoteModel: modelRaw === '' ? '' : safeFlag('remote-model-name', modelRaw),
    remoteDonefile: doneRaw === '' ? '' : safeFlag('remote-donefile-name', doneRaw),
    proxy: factory.proxy?.(sourceOptions) ?? null,
  };
}

function safeFlag(flag: string, v: string): string {
  try {
    return safeRelative(v);
  } catch (err) {
    throw new ConfigError(flag, `must be a path inside the remote path, got "${v}"`, { cause: err });
  }
}
