/**
 * `model-monitor publish PATH`: flags → a source (to read) and a writer (to
 * write) for the same remote → publish(). Exit 0 once the donefile names the
 * new version; 1 when anything failed before that (the previous version is
 * still the published one, whole); 2 for bad input, before any upload.
 * With --preheat-url, the cache tier is then asked to warm the new version
 * (preheat-cli.ts, preheat.ts); a failed preheat is logged and the exit code
 * stays 0: the version is published, replicas pull it from the origin.
 */
import type { CliIo } from '../cli-support.js';
import { ConfigError, MonitorError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RawOptions } from '../options.js';
import { nameable, preheatSettings, preheatUrls, remoteUrls, type PreheatSettings } from '../preheat-cli.js';
import { buildRemote, type RemoteChoice } from '../remote.js';
import { sources } from '../sources/index.js';
import { loggerFor, shutdownSignal, terminal } from '../runtime.js';
import { parseValues, type CoreValues } from '../values.js';
import { scanLocal } from './local.js';
import { parsePublishValues, publishFlags } from './options.js';
import { publish } from './publish.js';
import { monitorSource } from './view.js';
import { writerFor, writers } from './writers.js';

/** Every flag checked, no I/O (ConfigError naming the flag): also what --print-config validates. */
export function checkPublish(raw: RawOptions) {
  const core = parseValues(raw);
  const remote = buildRemote(raw, sources);
  const store = writerFor(remote.sourceKind);
  if (!store) {
    // Each writable store by its source's first scheme: `file://, ftp://, s3:// or webhdfs://`.
    const writable = writers.map((w) => `${sources.find((b) => b.kind === w.kind)?.schemes[0] ?? w.kind}://`);
    const list = writable.length > 1 ? `${writable.slice(0, -1).join(', ')} or ${writable.at(-1)}` : (writable[0] ?? '');
    throw new ConfigError(
      raw['remote'] ? 'remote' : 'type',
      `${remote.displayUrl} is read-only for publish (${remote.sourceKind} has no writer); publish to ${list}`,
    );
  }
  const openWriter = store.bind(remote, raw);
  const preheat: PreheatSettings | null = raw['preheat-url'] ? preheatSettings(raw) : null;
  return { core, remote, openWriter, pub: parsePublishValues(raw), preheat };
}

/**
 * After the commit: the new version's files, named as replicas will request
 * them, go to the cache tier. Read back through a source of its own that has
 * listed nothing (a replica's URLs carry only what its own listings saw) and
 * through the view, as a monitor reads them.
 */
async function warm(
  h: PreheatSettings,
  remote: RemoteChoice,
  core: CoreValues,
  ctx: { root: Logger; log: Logger; signal: AbortSignal; version: string },
): Promise<void> {
  const { log, signal, version } = ctx;
  const source = monitorSource(remote, { log: ctx.root, timeoutMs: core.timeoutMs, concurrency: core.concurrency, retries: core.retries });
  try {
    const urls = await remoteUrls(source, remote.remoteModel, core, { signal, log });
    await preheatUrls(h, urls, { log, signal, concurrency: core.concurrency });
  } catch (err) {
    log.warn(
      { event: 'preheat-failed', version, err },
      `preheat failed; ${version} is published all the same (replicas pull it from the origin): ${(err as Error).message}`,
    );
  } finally {
    await source.close().catch(() => {});
  }
}

export async function runPublish(localPath: string, raw: RawOptions, io: CliIo): Promise<number> {
  const { core, remote, openWriter, pub, preheat } = checkPublish(raw);
  const local = await scanLocal(localPath, remote.remoteModel);
  // The source and the writer bind their own component (backend.ts, writers.ts): they get the root logger.
  const root = loggerFor(core, terminal(), publishFlags);
  const log = root.child({ component: 'publish' });
  const deps = { log: root, timeoutMs: core.timeoutMs, concurrency: core.concurrency, retries: core.retries };
  const source = remote.openSource(deps);
  const writer = openWriter(deps);
  const { signal, dispose } = shutdownSignal(log, 'the previous version stays published');
  try {
    if (preheat) nameable(source);
    const r = await publish(local, source, writer, {
      model: remote.remoteModel,
      donefile: remote.remoteDonefile,
      ...pub,
      concurrency: core.concurrency,
      timeoutMs: core.timeoutMs,
      retries: core.retries,
      signal,
      log,
    });
    log.info({ event: 'published', ...r }, `published ${r.version}: ${r.uploadedFiles} files uploaded (${r.uploadedBytes} bytes), ${r.reusedFiles} reused`);
    if (preheat) await warm(preheat, remote, core, { root, log, signal, version: r.version });
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
