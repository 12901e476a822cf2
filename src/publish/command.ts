/**
 * `model-monitor publish PATH`: flags → a source (to read) and a writer (to
 * write) for the same remote → publish(). Exit 0 once the donefile names the
 * new version; 1 when anything failed before that (the previous version is
 * still the published one, whole); 2 for bad input, before any upload.
 * With --preheat-url, the cache tier is then asked to warm the new version
 * (preheat-cli.ts, preheat.ts); a failed preheat is logged and the exit code
 * stays 0: the version is published, replicas pull it from the origin.
 */
import { loggerFor, shutdownSignal, terminal, type CliIo } from '../cli-support.js';
import { ConfigError, MonitorError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RawOptions } from '../options.js';
import { nameable, preheatSettings, preheatUrls, remoteUrls, type PreheatSettings } from '../preheat-cli.js';
import { buildRemote, type RemoteChoice } from '../remote.js';
import { sources } from '../sources/index.js';
import { parseValues, type CoreValues } from '../values.js';
import { scanLocal } from './local.js';
import { parsePublishValues } from './options.js';
import { publish } from './publish.js';
import { monitorSource } from './view.js';
import { writerFor } from './writers.js';

/** Every flag checked, no I/O (ConfigError naming the flag): also what --print-config validates. */
export function checkPublish(raw: RawOptions) {
  const core = parseValues(raw);
  const remote = buildRemote(raw, sources);
  const writer = writerFor(remote.factory);
  if (!writer) {
    const kind = remote.factory.kind;
    throw new ConfigError(raw['remote'] ? 'remote' : 'type', `${remote.displayUrl} is read-only for publish (${kind} has no writer); publish to file://, ftp://, s3:// or webhdfs://`);
  }
  const preheat: PreheatSettings | null = raw['preheat-url'] ? preheatSettings(raw) : null;
  return { core, remote, writer, pub: parsePublishValues(raw), preheat };
}

/**
 * After the commit: the new version's files, named as replicas will request
 * them, go to the cache tier. Read back through a source of its own that has
 * listed nothing (a replica's URLs carry only what its own listings saw) and
 * through the view, as a monitor reads them.
 */
async function warm(h: PreheatSettings, remote: RemoteChoice, core: CoreValues, ctx: { log: Logger; signal: AbortSignal; version: string }): Promise<void> {
  const { log, signal, version } = ctx;
  const source = monitorSource(remote, { log, timeoutMs: core.timeoutMs, concurrency: core.concurrency, retries: core.retries });
  try {
    const urls = await remoteUrls(source, remote.remoteModel, signal, core.timeoutMs);
    await preheatUrls(h, urls, { log, signal, concurrency: core.concurrency });
  } catch (err) {
    log.warn({ event: 'preheat-failed', version, err }, `preheat failed; ${version} is published all the same (replicas pull it from the origin): ${(err as Error).message}`);
  } finally {
    await source.close().catch(() => {});
  }
}

export async function runPublish(localPath: string, raw: RawOptions, io: CliIo): Promise<number> {
  const { core, remote, writer: wf, pub, preheat } = checkPublish(raw);
  const local = await scanLocal(localPath, remote.remoteModel);
  const log = loggerFor(core, terminal()).child({ component: 'publish' });
  const deps = { log, timeoutMs: core.timeoutMs, concurrency: core.concurrency, retries: core.retries };
  const source = remote.factory.create(remote.sourceOptions, deps);
  const writer = wf.create(remote.sourceOptions, deps);
  const { signal, dispose } = shutdownSignal(log, 'the previous version stays published');
  try {
    if (preheat) nameable(source);
    const r = await publish(local, source, writer, {
      model: remote.remoteModel, donefile: remote.remoteDonefile, ...pub,
      concurrency: core.concurrency, timeoutMs: core.timeoutMs, retries: core.retries, signal, log,
    });
    log.info({ event: 'published', ...r }, `published ${r.version}: ${r.uploadedFiles} files uploaded (${r.uploadedBytes} bytes), ${r.reusedFiles} reused`);
    if (preheat) await warm(preheat, remote, core, { log, signal, version: r.version });
    return 0;
  } catch (err) {
    // Bad input found on the remote (a model publish did not write) is exit 2; a bug is reported as one.
    if (err instanceof ConfigError || !(err instanceof MonitorError)) throw err;
    log.error({ event: 'publish-failed', err }, `publish failed; the previous version is still published: ${err.message}`);
    io.err(`model-monitor: ${err.message}\n`);
    return 1;
  } finally {
    dispose();
    await Promise.all([source.close(), writer.close()].map((p) => p.catch(() => {})));
    log.flush?.();
  }
}
