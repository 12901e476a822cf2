/**
 * flags + env + config file → one frozen MonitorConfig, validated before any
 * I/O but reading the config file. ConfigError names the flag (exit code 2).
 * Precedence: flag > MODEL_MONITOR_* env > --config file > default.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { coreOptions } from './core-options.js';
import { ConfigError } from './errors.js';
import { envName, kebab, LIST_SEPARATOR, MASK, redactUrl, type OptionSpec, type RawOptions } from './options.js';
import { buildRemote, remoteGiven, remoteOptions, wholeFilesOnly, type RemoteChoice } from './remote.js';
import { sources } from './sources/index.js';
import { yaml } from './lazy.js';
import { parseValues, type CoreValues } from './values.js';

/** Commands that read or change only local state: no remote flags needed. */
export type LocalCommand = 'rollback' | 'status' | 'accept';
/** Commands that talk to the remote. */
export type RemoteCommand = 'watch' | 'sync' | 'preheat';
export type Command = RemoteCommand | LocalCommand | 'demo' | 'kserve-init' | 'publish';

/** What every command knows: the local side, and the remote when one was named. */
export interface LocalConfig extends CoreValues {
  readonly command: Command;
  readonly servedPath: string;
  readonly workDir: string;
  readonly modelName: string;
  readonly raw: RawOptions;
  /** null when a local command was given no remote flags. */
  readonly remote: RemoteChoice | null;
}

export interface MonitorConfig extends LocalConfig, RemoteChoice {
  readonly remote: RemoteChoice;
}

/** Every option: the remote's, the core's and each source's (one copy of an option two sources share). */
export function allOptions(): OptionSpec[] {
  const seen = new Set<string>();
  const out: OptionSpec[] = [];
  for (const o of [...remoteOptions, ...coreOptions, ...sources.flatMap((s) => s.options)]) {
    if (seen.has(o.name)) continue;
    seen.add(o.name);
    out.push(o);
  }
  return out;
}

/** Every spelling → canonical kebab name: `ftp_ip` → `ftp-host`, `local_path` → `local-path`. */
export function aliasMap(specs: readonly OptionSpec[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of specs) {
    m.set(s.name, s.name);
    for (const a of s.aliases ?? []) m.set(kebab(a), s.name);
  }
  m.set('no-touch', 'no-touch-timestamp');
  return m;
}

/**
 * Rewrites Paddle's spellings to the canonical ones before commander sees them:
 * `--local_tmp_dir=tmp` → `--local-tmp-path=tmp`. Stops at `--`.
 */
export function normalizeArgv(args: readonly string[], specs: readonly OptionSpec[]): string[] {
  const aliases = aliasMap(specs);
  const out: string[] = [];
  let done = false;
  for (const a of args) {
    if (done || !a.startsWith('--') || a === '--') {
      if (a === '--') done = true;
      out.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = kebab(eq < 0 ? a.slice(2) : a.slice(2, eq));
    const neg = name.startsWith('no-') && !aliases.has(name) ? name.slice(3) : null;
    const canon = neg !== null ? `no-${aliases.get(neg) ?? neg}` : (aliases.get(name) ?? name);
    out.push(`--${canon}${eq < 0 ? '' : a.slice(eq)}`);
  }
  return out;
}

function stringify(v: unknown, flag: string): string {
  if (Array.isArray(v)) return v.map((x) => stringify(x, flag)).join(LIST_SEPARATOR);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ConfigError(flag, `config file value must be a string, number, boolean or list`);
}

/** Reads a YAML or JSON config file into raw values keyed by canonical flag name. */
export function readConfigFile(file: string, specs: readonly OptionSpec[]): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = yaml().parse(text); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError('config', `${file} is not valid YAML or JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config', `${file} must hold a mapping of flag names to values`);
  const aliases = aliasMap(specs);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const name = aliases.get(kebab(k));
    if (!name) throw new ConfigError('config', `${file}: unknown key "${k}"`);
    out[name] = stringify(v, name);
  }
  return out;
}

/** Merges the layers for every option. `cli` holds only what was typed. */
export function resolveRaw(
  cli: Readonly<Record<string, string | undefined>>,
  env: NodeJS.ProcessEnv,
  specs: readonly OptionSpec[],
): Record<string, string | undefined> {
  const configFile = cli['config'] ?? env[envName('config')];
  const file = configFile ? readConfigFile(configFile, specs) : {};
  const raw: Record<string, string | undefined> = {};
  for (const s of specs) {
    const d = s.default === undefined ? undefined : String(s.default);
    raw[s.name] = cli[s.name] ?? env[envName(s.name)] ?? file[s.name] ?? d;
  }
  return raw;
}

function localSide(command: Command, raw: RawOptions, remote: RemoteChoice | null): LocalConfig {
  const core = parseValues(raw);
  const fromRemote = remote?.remoteModel ? path.posix.basename(remote.remoteModel) : null;
  const modelName = core.localModelName ?? core.unpackedFilename ?? fromRemote;
  if (modelName === null) {
    throw new ConfigError('local-model-name', `required for ${command} (the served model is --local_path/NAME), or give --remote_model_name`);
  }
  if (modelName.includes('/') || modelName === '..' || modelName === '.') {
    throw new ConfigError('local-model-name', `must be a plain directory name, got "${modelName}"`);
  }
  const localPath = path.resolve(core.localPath);
  return { ...core, command, servedPath: path.join(localPath, modelName), workDir: path.resolve(localPath, core.localTmpPath), modelName, raw, remote };
}

/** Builds the frozen config of a command that talks to the remote. No network, no disk but path resolution. */
export function buildConfig(command: Command, raw: RawOptions): MonitorConfig {
  const remote = buildRemote(raw, sources);
  const local = localSide(command, raw, remote);
  return Object.freeze({ ...local, partSize: wholeFilesOnly(raw, remote) ? 0 : local.partSize, ...remote, remote });
}

/**
 * The config of a local command (status, rollback, accept): --local_path,
 * --local_model_name and --local_tmp_path are enough. Remote flags, when given,
 * are still checked, and only shown.
 */
export function buildLocalConfig(command: LocalCommand, raw: RawOptions): LocalConfig {
  const remote = remoteGiven(raw) ? buildRemote(raw, sources, { names: 'optional' }) : null;
  return Object.freeze(localSide(command, raw, remote));
}

/** The effective config for --print-config: secret options masked, a password in any URL value too. */
export function printableConfig(raw: RawOptions, specs: readonly OptionSpec[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const s of specs) {
    const v = raw[s.name];
    if (v === undefined) continue;
    if (s.secret) out[s.name] = MASK;
    else if (s.kind === 'list') out[s.name] = v.split(LIST_SEPARATOR).map(redactUrl);
    else out[s.name] = redactUrl(v);
  }
  return out;
}
