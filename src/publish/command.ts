/**
 * `model-monitor publish PATH`: flags → a source (to read) and a writer (to
 * write) for the same remote → publish(). Exit 0 once the donefile names the
 * new version; 1 when anything failed before that (the previous version is
 * still the published one, whole); 2 for bad input, before any upload.
 */
import type { CliIo } from '../cli.js';
import { ConfigError, MonitorError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { RawOptions } from '../options.js';
import { buildRemote } from '../remote.js';
import { sources } from '../sources/index.js';
import type { Source } from '../sources/types.js';
import { parseValues } from '../values.js';
import { scanLocal } from './local.js';
import { parsePublishValues } from './options.js';
import { publish } from './publish.js';
import type { Writer } from './types.js';
import { writerFor } from './writers.js';

function setup(raw: RawOptions) {
  const core = parseValues(raw);
  const remote = buildRemote(raw, sources);
  const writer = writerFor(remote.factory);
  if (!writer) {
    const kind = remote.factory.kind;
    throw new ConfigError(raw['remote'] ? 'remote' : 'type', `${remote.displayUrl} is read-only for publish (${kind} has no writer); publish to file://, ftp://, s3:// or webhdfs://`);
  }
  return { core, remote, writer, pub: parsePublishValues(raw) };
}

function onSignals(log: Logger): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    log.warn({ event: 'shutdown', signal: sig }, 'stopping: the previous version stays published');
    ac.abort(new Error(`received ${sig}`));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return { signal: ac.signal, dispose: () => (process.off('SIGTERM', stop), process.off('SIGINT', stop)) };
}

export async function runPublish(localPath: string, raw: RawOptions, io: CliIo): Promise<number> {
  let log: Logger | null = null;
  let source: Source | null = null;
  let writer: Writer | null = null;
  try {
    const { core, remote, writer: wf, pub } = setup(raw);
    const local = await scanLocal(localPath, remote.remoteModel);
    log = createLogger({ level: core.logLevel, format: core.logFormat }).child({ component: 'publish' });
    const deps = { log, timeoutMs: core.timeoutMs, concurrency: core.concurrency, retries: core.retries };
    source = remote.factory.create(remote.sourceOptions, deps);
    writer = wf.create(remote.sourceOptions, deps);
    const { signal, dispose } = onSignals(log);
    try {
      const r = await publish(local, source, writer, {
        model: remote.remoteModel, donefile: remote.remoteDonefile, ...pub,
        concurrency: core.concurrency, timeoutMs: core.timeoutMs, retries: core.retries, signal, log,
      });
      log.info({ event: 'published', ...r }, `published ${r.version}: ${r.uploadedFiles} files uploaded (${r.uploadedBytes} bytes), ${r.reusedFiles} reused`);
      return 0;
    } finally {
      dispose();
    }
  } catch (err) {
    const code = err instanceof ConfigError ? 2 : 1;
    if (log && code === 1) log.error({ event: 'publish-failed', err }, `publish failed; the previous version is still published: ${(err as Error).message}`);
    io.err(`model-monitor: ${err instanceof MonitorError ? err.message : `internal error: ${(err as Error)?.stack ?? String(err)}`}\n`);
    return code;
  } finally {
    await Promise.all([source?.close(), writer?.close()].map((p) => p?.catch(() => {})));
    log?.flush?.();
  }
}
