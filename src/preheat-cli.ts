/**
 * `model-monitor preheat --preheat-url TARGET [URL...]`: warm a cache tier or
 * Dragonfly with a new version before the replicas poll (preheat.ts). Given
 * URLs, those; given the replicas' remote flags instead (--remote,
 * --remote_model_name, --remote_donefile_name), the URLs of the remote
 * model's files exactly as replicas behind a proxy request them (with their
 * version keys; a model `publish` wrote, through its manifest, as replicas
 * read it). A producer's last step, or an exec hook; `publish --preheat-url`
 * calls the same functions once its donefile is written.
 */
import { loggerFor, shutdownSignal, terminal } from './runtime.js';
import { buildConfig } from './config.js';
import { ConfigError, MonitorError, NotFoundError } from './errors.js';
import { listModel } from './plan.js';
import type { Logger } from './log.js';
import type { OptionSpec, RawOptions } from './options.js';
import { joinRemote } from './paths.js';
import { remoteGiven } from './remote.js';
import { parsePreheatTarget, preheat, type PreheatResult, type PreheatTarget } from './preheat.js';
import { monitorSource } from './publish/view.js';
import type { Source } from './sources/types.js';
import { readOptions } from './option-values.js';
import { parseValues, type CoreValues } from './values.js';

const G = 'Preheat (the preheat command; publish --preheat-url)';

// An option table reads one flag per line.
// prettier-ignore
export const preheatOptions = [
  { name: 'preheat-url', kind: 'string', metavar: 'URL', group: G, help: "Dragonfly manager's job API (http://manager:8080/oapi/v1/jobs) or a caching proxy (http://squid:3128)" },
  { name: 'preheat-token', kind: 'string', metavar: 'TOKEN', group: G, secret: true, help: 'Dragonfly personal access token (Authorization: Bearer)' },
  { name: 'preheat-wait', kind: 'bool', group: G, default: false, help: 'wait until the Dragonfly job succeeds (or fails) within --preheat-timeout' },
  { name: 'preheat-timeout', kind: 'duration', metavar: 'SECONDS', group: G, default: '600', min: 1, help: 'deadline for the whole preheat' },
] as const satisfies readonly OptionSpec[];

export interface PreheatIo {
  readonly out: (s: string) => void;
}

function fileUrls(args: readonly string[]): string[] {
  return args.map((a) => {
    let u: URL;
    try {
      u = new URL(a);
    } catch (err) {
      throw new ConfigError('', `preheat: not a URL: "${a}"`, { cause: err });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('', `preheat: not an http(s) URL: "${a}"`);
    return u.href;
  });
}

/**
 * Only a source that knows the URL of each GET (HTTP, S3) can be preheated by
 * URL: ConfigError otherwise, before any I/O.
 */
export function nameable(source: Source): source is Source & Required<Pick<Source, 'requestUrl'>> {
  if (source.requestUrl) return true;
  throw new ConfigError(
    'remote',
    `${source.kind} file URLs cannot be named ahead (only http:// and s3:// requests have URLs of their own; a WebHDFS namenode picks the datanode per request): preheat with a canary replica instead (docs: fleet)`,
  );
}

/**
 * The URLs of the remote model's files as replicas request them; the source is
 * listed as a plan lists it (retries included). `source` must be one that has
 * listed nothing yet (a replica's URLs carry the keys of its own listings only).
 */
export async function remoteUrls(
  source: Source,
  model: string,
  o: { timeoutMs: number; retries: number },
  ctx: { signal: AbortSignal; log: Logger },
): Promise<string[]> {
  if (!nameable(source)) return [];
  const { entries, single } = await listModel(source, model, { ...o, archive: false }, ctx).catch((err: unknown) => {
    throw err instanceof NotFoundError ? new ConfigError('remote-model-name', `no such remote model: ${source.displayUrl}/${model}`, { cause: err }) : err;
  });
  return single ? [source.requestUrl(model)] : entries.map((e) => source.requestUrl(joinRemote(model, e.path)));
}

/** `root` for the source (it binds its own component), `log` for the preheat's lines. */
async function urlsFrom(raw: RawOptions, args: readonly string[], logs: { root: Logger; log: Logger }, signal: AbortSignal): Promise<string[]> {
  if (args.length > 0) return fileUrls(args);
  if (!remoteGiven(raw))
    throw new ConfigError('preheat-url', 'give the file URLs, or the remote flags of the replicas (--remote, --remote_model_name, --remote_donefile_name)');
  const c = buildConfig('preheat', raw);
  const source = monitorSource(c, { log: logs.root, timeoutMs: c.timeoutMs, concurrency: c.concurrency, retries: c.retries });
  try {
    return await remoteUrls(source, c.remoteModel, c, { signal, log: logs.log });
  } finally {
    await source.close();
  }
}

/** What the preheat flags say: where to, and how (publish --preheat-url takes the same flags). */
export interface PreheatSettings {
  readonly target: PreheatTarget;
  readonly deadlineMs: number;
  readonly wait: boolean;
  readonly token?: string;
}

/** The preheat flags checked (ConfigError naming the flag), no I/O. */
export function preheatSettings(raw: RawOptions): PreheatSettings {
  const v = readOptions(preheatOptions, raw);
  const target = parsePreheatTarget(v.preheatUrl ?? '');
  return { target, deadlineMs: v.preheatTimeoutMs, wait: v.preheatWait, ...(v.preheatToken !== null ? { token: v.preheatToken } : {}) };
}

/** The preheat command's flags checked: also what --print-config validates. */
export function checkPreheat(raw: RawOptions): { settings: PreheatSettings; core: CoreValues } {
  return { settings: preheatSettings(raw), core: parseValues(raw) };
}

/** Runs one preheat of `urls` with the flags' settings. */
export function preheatUrls(h: PreheatSettings, urls: readonly string[], o: { log: Logger; signal: AbortSignal; concurrency: number }): Promise<PreheatResult> {
  const { target, deadlineMs, wait, token } = h;
  return preheat(target, urls, { ...o, deadlineMs, wait, ...(token !== undefined ? { token } : {}) });
}

/** Runs the command; returns the exit code (0 done, 1 failed). ConfigErrors propagate (exit 2). */
export async function runPreheat(raw: RawOptions, args: readonly string[], io: PreheatIo): Promise<number> {
  const { settings, core } = checkPreheat(raw);
  const root = loggerFor(core, terminal(), preheatOptions);
  const log = root.child({ component: 'preheat' });
  const { signal, dispose } = shutdownSignal(log);
  try {
    const urls = await urlsFrom(raw, args, { root, log }, signal);
    const r: PreheatResult = await preheatUrls(settings, urls, { log, signal, concurrency: core.concurrency });
    io.out(`${JSON.stringify({ ...r, files: urls })}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || !(err instanceof MonitorError)) throw err;
    log.error({ event: 'preheat-failed', err }, `preheat failed: ${err.message}`);
    return 1;
  } finally {
    dispose();
    log.flush?.();
  }
}
