/**
 * Where the model comes from: `--remote URL`, or Paddle's `--type` + flags
 * turned into the same URL by the backend that declares that type. Picks the
 * backend by scheme and lets it validate its own options.
 */
import { ConfigError } from './errors.js';
import { readOptions } from './option-values.js';
import { redactUrl, type OptionSpec, type RawOptions } from './options.js';
import { joinRemote, safeRelative } from './paths.js';
import type { Backend, BoundSource } from './sources/backend.js';
import { sources } from './sources/index.js';
import type { Source, SourceDeps } from './sources/types.js';

const S = 'Source (Paddle Serving flags)';

/** Every --type name, from the backends that declare one. */
export const paddleTypes = (all: readonly Backend[] = sources): string[] => all.flatMap((b) => b.paddleTypes);

/** The flags that choose the remote (a backend's own flags, Paddle's --ftp_host among them, sit beside it). */
// An option table reads one flag per line.
// prettier-ignore
export const remoteOptions = [
  { name: 'remote', kind: 'string', metavar: 'URL', group: S, help: `remote root: ${sources.flatMap((b) => b.schemes.map((s) => `${s}://`)).join(', ')}` },
  { name: 'type', kind: 'string', group: S, choices: paddleTypes(), help: "Paddle's --type: remote kind, with --remote_path" },
  { name: 'remote-path', kind: 'string', metavar: 'PATH', group: S, help: 'remote directory holding the model and the donefile (with --type)' },
  { name: 'remote-model-name', kind: 'string', metavar: 'NAME', group: S, help: 'remote model: a directory, or a tar / tar.gz with --unpacked_filename' },
  { name: 'remote-donefile-name', kind: 'string', metavar: 'NAME', group: S, help: 'remote donefile whose change means a new model' },
] as const satisfies readonly OptionSpec[];

export interface RemoteChoice {
  /** The backend's kind (`ftp`, `s3`…). */
  readonly sourceKind: string;
  /** Creates the source; no I/O until its first call. */
  readonly openSource: (deps: SourceDeps) => Source;
  readonly remoteUrl: URL;
  /** The remote as given (--remote), or built from Paddle's flags: a comma list of hosts that `remoteUrl` cannot hold. */
  readonly remoteText: string;
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

/**
 * `--remote`. WHATWG URLs cannot hold a comma host list (`webhdfs://nn1:9870,nn2:9870/p`):
 * such a source reads the text itself; the URL only carries its scheme.
 */
function parseUrl(flag: string, s: string): URL {
  try {
    return new URL(s);
  } catch {
    const scheme = flag === 'remote' ? /^([a-z][a-z0-9+.-]*):\/\/[^/]*,/i.exec(s)?.[1] : undefined;
    if (scheme) return new URL(`${scheme}://placeholder/`);
    throw new ConfigError(flag, `not a URL: "${redactUrl(s)}"`);
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

/** Paddle's flags → the URL text of the remote root, built by the backend that declares `type`. */
function paddleRemote(type: string, remotePath: string | null, raw: RawOptions, all: readonly Backend[]): { text: string; flag: string } {
  const b = all.find((x) => x.paddleTypes.includes(type));
  if (!b) throw new ConfigError('type', `unknown type "${type}"; one of ${paddleTypes(all).join(', ')}`);
  const { url, flag } = b.paddleUrl(type, encodePath(joinRemote('/', remotePath ?? '/')), raw);
  return { text: url, flag };
}

function pickBackend(url: URL, all: readonly Backend[], flag: string): Backend {
  const scheme = url.protocol.replace(/:$/, '');
  const b = all.find((x) => x.schemes.includes(scheme));
  if (!b) {
    const known = [...new Set(all.flatMap((x) => x.schemes))].join(', ');
    throw new ConfigError(flag, `no source for ${scheme}:// (this build knows ${known})`);
  }
  return b;
}

/** True when the flags name a remote at all (`--remote`, or Paddle's `--type`). */
export function remoteGiven(raw: RawOptions): boolean {
  return !!raw['remote'] || !!raw['type'];
}

function need(v: string | null, flag: string, why: string): string {
  if (v === null) throw new ConfigError(flag, `required ${why}`);
  return v;
}

function safeFlag(flag: string, v: string | null): string {
  if (v === null) return '';
  try {
    return safeRelative(v);
  } catch (err) {
    throw new ConfigError(flag, `must be a path inside the remote path, got "${v}"`, { cause: err });
  }
}

/**
 * `names: 'optional'` is for the local commands (status, rollback, accept): the remote is
 * only shown, so a missing model or donefile name is left empty instead of refused.
 */
export function buildRemote(raw: RawOptions, all: readonly Backend[] = sources, o: { names?: 'required' | 'optional' } = {}): RemoteChoice {
  const v = readOptions(remoteOptions, raw);
  if (v.remote !== null && v.type !== null) {
    throw new ConfigError('type', 'conflicts with --remote: give either a --remote URL, or --type with --remote_path (Paddle Serving flags)');
  }
  if (v.remote === null && v.type === null) {
    throw new ConfigError('remote', 'required: a --remote URL, or --type with --remote_path (Paddle Serving flags)');
  }
  // Every backend's flags are checked, the chosen one's and the others' alike: bad input is refused before any I/O.
  for (const b of all) readOptions(b.options, raw);
  const { text, flag } = v.remote !== null ? { text: v.remote, flag: 'remote' } : paddleRemote(v.type!, v.remotePath, raw, all);
  const optional = o.names === 'optional';
  const model = optional ? v.remoteModelName : need(v.remoteModelName, 'remote-model-name', '(the remote model directory or archive)');
  const donefile = optional ? v.remoteDonefileName : need(v.remoteDonefileName, 'remote-donefile-name', '(the remote donefile)');
  const url = parseUrl(flag, text);
  const b = pickBackend(url, all, flag);
  const bound: BoundSource = b.bind(url, raw, text);
  const proxied = (x: Backend) => x.options.some((s) => s.name === 'proxy');
  if (raw['proxy'] && !proxied(b)) {
    const which = all.filter(proxied).flatMap((x) => x.schemes.map((s) => `${s}://`));
    throw new ConfigError('proxy', `${b.kind} remotes do not go through an HTTP proxy (only ${which.join(', ')} do)`);
  }
  return {
    sourceKind: bound.kind,
    openSource: bound.open,
    remoteUrl: url,
    remoteText: text,
    displayUrl: redactUrl(url.toString()),
    remoteModel: safeFlag('remote-model-name', model),
    remoteDonefile: safeFlag('remote-donefile-name', donefile),
    proxy: bound.proxy,
  };
}
