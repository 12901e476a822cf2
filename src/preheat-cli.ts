/**
 * `model-monitor preheat --preheat-url TARGET [URL...]`: warm a cache tier or
 * Dragonfly with a new version before the replicas poll (preheat.ts). Given
 * URLs, those; given the replicas' remote flags instead (--remote,
 * --remote_model_name, --remote_donefile_name), the URLs of the remote
 * model's files exactly as replicas behind a proxy request them (with their
 * version keys). A producer's last step, or an exec hook, until `publish
 * --preheat-url` calls the same module.
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
import type { Source } from './sources/types.js';
import { readOptions, type Values } from './option-values.js';
import { parseValues, type CoreValues } from './values.js';

const G = 'Preheat (the preheat command)';

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

/** The URLs of the remote model's files as replicas request them; the source is listed as a plan lists it. */
async function remoteUrls(source: Source, model: string, o: { timeoutMs: number; retries: number }, ctx: { signal: AbortSignal; log: Logger }): Promise<string[]> {
  const requestUrl = source.requestUrl?.bind(source);
  if (!requestUrl) {
    throw new ConfigError('remote', `${source.kind} file URLs cannot be named ahead (the namenode picks the datanode): preheat with a canary replica instead (docs: fleet)`);
  }
  const { entries, single } = await listModel(source, model, { ...o, archive: false }, ctx).catch((err: unknown) => {
    throw err instanceof NotFoundError ? new ConfigError('remote-model-name', `no such remote model: ${source.displayUrl}/${model}`, { cause: err }) : err;
  });
  return single ? [requestUrl(model)] : entries.map((e) => requestUrl(joinRemote(model, e.path)));
}

async function urlsFrom(raw: RawOptions, args: readonly string[], log: Logger, signal: AbortSignal): Promise<string[]> {
  if (args.length > 0) return fileUrls(args);
  if (!remoteGiven(raw)) throw new ConfigError('preheat-url', 'give the file URLs, or the remote flags of the replicas (--remote, --remote_model_name, --remote_donefile_name)');
  const c = buildConfig('preheat', raw);
  const source = c.openSource({ log, timeoutMs: c.timeoutMs, concurrency: c.concurrency });
  try {
    return await remoteUrls(source, c.remoteModel, c, { signal, log });
  } finally {
    await source.close();
  }
}

/** The preheat flags checked (ConfigError naming the flag): also what --print-config validates. */
export function checkPreheat(raw: RawOptions): { target: PreheatTarget; core: CoreValues; own: Values<typeof preheatOptions> } {
  const own = readOptions(preheatOptions, raw);
  const target = parsePreheatTarget(own.preheatUrl ?? '');
  return { target, core: parseValues(raw), own };
}

/** Runs the command; returns the exit code (0 done, 1 failed). ConfigErrors propagate (exit 2). */
export async function runPreheat(raw: RawOptions, args: readonly string[], io: PreheatIo): Promise<number> {
  const { target, core, own } = checkPreheat(raw);
  const log = loggerFor(core, terminal(), preheatOptions).child({ component: 'preheat' });
  const { signal, dispose } = shutdownSignal(log);
  try {
    const urls = await urlsFrom(raw, args, log, signal);
    const r: PreheatResult = await preheat(target, urls, {
      log, signal, deadlineMs: own.preheatTimeoutMs, wait: own.preheatWait, concurrency: core.concurrency,
      ...(own.preheatToken !== null ? { token: own.preheatToken } : {}),
    });
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
