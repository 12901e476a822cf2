/**
 * One sync cycle, the same for every source and mode:
 *   detect → plan → fetch → verify → check → swap → reload → record
 * A failure before swap discards staging and leaves the served model as it was.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { checkDiskSpace, runValidate } from './check.js';
import type { MonitorConfig } from './config.js';
import { detect } from './detect.js';
import { abortReason, isRetryable, MonitorError, ReloadError, ValidateError } from './errors.js';
import { fetchModel } from './fetch.js';
import type { Logger } from './log.js';
import { joinDisplay } from './options.js';
import type { Aspired, ServedRecord, Staged } from './model.js';
import { plan, type FetchPlan } from './plan.js';
import type { ReloadEvent, ReloadTrigger } from './reload/types.js';
import type { Source } from './sources/types.js';
import { stagingDirFor } from './staging.js';
import { readStatus, updateStatus } from './state.js';
import type { SwapResult, SwapStrategy } from './swap/types.js';
import { verify } from './verify.js';

export interface CycleDeps {
  readonly source: Source;
  readonly swap: SwapStrategy;
  readonly triggers: readonly ReloadTrigger[];
  readonly config: MonitorConfig;
  readonly log: Logger;
  /** Pull even if the served fingerprint matches (the served copy failed its start-up check). */
  readonly force?: boolean;
  readonly hooks?: CycleHooks;
}

export interface CycleHooks {
  onPlan?(p: FetchPlan): void;
  onBytes?(n: number): void;
  /** A file of the plan is complete in staging (downloaded, resumed, reused or unpacked). */
  onFile?(path: string): void;
  onPhase?(phase: string, ms: number): void;
}

export type CycleOutcome =
  | { readonly kind: 'no-donefile' }
  | { readonly kind: 'current'; readonly version: string }
  | { readonly kind: 'skipped-rejected'; readonly fingerprint: string }
  | {
      readonly kind: 'updated';
      readonly version: string;
      readonly previous: string | null;
      readonly bytes: number;
      readonly files: number;
      /** Bytes actually downloaded (less than `bytes` with --incremental). */
      readonly fetchedBytes: number;
    };

export const stagingRoot = (c: Pick<MonitorConfig, 'workDir' | 'modelName'>) => path.join(c.workDir, `${c.modelName}.staging`);

async function timed<T>(d: CycleDeps, phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    d.hooks?.onPhase?.(phase, performance.now() - t0);
  }
}

export async function runCycle(d: CycleDeps, signal: AbortSignal): Promise<CycleOutcome> {
  const c = d.config;
  const ctx = { signal, log: d.log };
  const aspired = await timed(d, 'detect', () =>
    detect(d.source, { donefile: c.remoteDonefile, remoteModel: c.remoteModel, mode: c.detect, timeoutMs: c.timeoutMs, retries: c.retries }, ctx),
  );
  if (!aspired) return { kind: 'no-donefile' };
  const served = await d.swap.current();
  if (!d.force && served?.record.fingerprint === aspired.fingerprint) return { kind: 'current', version: served.version };
  const status = await readStatus(c.workDir, c.modelName);
  if (status.rejected?.fingerprint === aspired.fingerprint) return { kind: 'skipped-rejected', fingerprint: aspired.fingerprint };
  d.log.info({ event: 'change', version: aspired.version, fingerprint: aspired.fingerprint }, 'donefile changed, pulling the model');
  const { result, fetchedBytes } = await pullAndSwap(d, aspired, served, signal);
  await reload(d, result, served);
  await updateStatus(c.workDir, c.modelName, { lastSuccessAt: new Date().toISOString(), lastOutcome: 'updated' });
  const files = result.record.files;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return { kind: 'updated', version: result.version, previous: served?.version ?? null, bytes, files: files.length, fetchedBytes };
}

async function pullAndSwap(d: CycleDeps, a: Aspired, served: SwapResult | null, signal: AbortSignal): Promise<{ result: SwapResult; fetchedBytes: number }> {
  const c = d.config;
  const ctx = { signal, log: d.log };
  const p = await timed(d, 'plan', () =>
    plan(d.source, a, served?.record ?? null, {
      manifestName: c.manifest, verify: c.verify, donefile: c.remoteDonefile, incremental: c.incremental,
      timeoutMs: c.timeoutMs, retries: c.retries, archive: c.unpackedFilename !== null, neverReuse: [c.timestampFile ?? ''],
    }, ctx),
  );
  d.hooks?.onPlan?.(p);
  await checkDiskSpace(c.workDir, p.totalBytes);
  let keepStaging = false;
  try {
    const staged: Staged = await timed(d, 'fetch', () =>
      fetchModel(d.source, p, {
        stagingRoot: stagingRoot(c), concurrency: c.concurrency, partSize: c.partSize, bwlimit: c.bwlimit, timeoutMs: c.timeoutMs, retries: c.retries,
        md5: c.verify === 'md5' || (c.verify === 'auto' && (p.manifest !== null || p.files.some((f) => f.md5))),
        servedDir: served ? path.join(served.servedPath) : null, unpackedFilename: c.unpackedFilename, onBytes: d.hooks?.onBytes, onFile: d.hooks?.onFile,
      }, ctx),
    );
    const verified = verify(p, staged, { mode: c.verify, ignore: [c.timestampFile ?? '', c.manifest ?? ''].filter(Boolean) });
    if (c.validate) await timed(d, 'validate', () => validateOrReject(d, verified.dir, a, signal));
    signal.throwIfAborted();
    const record: ServedRecord = { version: a.version, fingerprint: a.fingerprint, remote: joinDisplay(d.source.displayUrl, a.remoteModel), appliedAt: new Date().toISOString(), files: verified.files };
    // From here on the swap runs to its end whatever the signal says: it is short and never leaves a partial model.
    const result = await timed(d, 'swap', () => d.swap.swap(verified, record, { log: d.log, signal: new AbortController().signal }));
    return { result, fetchedBytes: p.totalBytes };
  } catch (err) {
    // A dropped connection or a shutdown keeps what was fetched: the next attempt at this version resumes.
    keepStaging = isRetryable(err) || signal.aborted;
    if (signal.aborted && !(err instanceof MonitorError)) throw abortReason(signal);
    throw err;
  } finally {
    if (!keepStaging) await rm(stagingDirFor(stagingRoot(c), a.fingerprint), { recursive: true, force: true });
  }
}

async function validateOrReject(d: CycleDeps, dir: string, a: Aspired, signal: AbortSignal): Promise<void> {
  const c = d.config;
  try {
    await runValidate(c.validate!, dir, a.version, { timeoutMs: c.validateTimeoutMs, signal, log: d.log });
  } catch (err) {
    if (err instanceof ValidateError) {
      await updateStatus(c.workDir, c.modelName, { rejected: { fingerprint: a.fingerprint, reason: err.message, at: new Date().toISOString() } });
    }
    throw err;
  }
}

export async function fireTriggers(d: Pick<CycleDeps, 'triggers' | 'log'>, e: ReloadEvent, timeoutMs: number): Promise<void> {
  for (const t of d.triggers) {
    const t0 = performance.now();
    await t.fire(e, { log: d.log, signal: AbortSignal.timeout(timeoutMs) });
    d.log.info({ event: 'reload', trigger: t.name, version: e.version, durationMs: Math.round(performance.now() - t0) }, `reload: ${t.name}`);
  }
}

export function reloadEvent(r: SwapResult, previousVersion: string | null): ReloadEvent {
  return { servedPath: r.servedPath, modelDir: r.servedPath, version: r.version, previousVersion, previousDir: r.backupPath };
}

async function reload(d: CycleDeps, r: SwapResult, served: SwapResult | null): Promise<void> {
  const c = d.config;
  try {
    await timed(d, 'reload', () => fireTriggers(d, reloadEvent(r, served?.version ?? null), c.execTimeoutMs));
  } catch (err) {
    const e = err instanceof ReloadError ? err : new ReloadError(`reload failed after swapping in ${r.version}`, { cause: err });
    if (!c.rollbackOnReloadFailure || !served) throw e;
    d.log.error({ event: 'reload-failed', version: r.version, err: e }, 'reload failed; rolling back');
    const back = await d.swap.rollback({ log: d.log, signal: new AbortController().signal });
    await updateStatus(c.workDir, c.modelName, { rejected: { fingerprint: r.record.fingerprint, reason: e.message, at: new Date().toISOString() }, lastOutcome: 'rolled-back' });
    await fireTriggers(d, reloadEvent(back, r.version), c.execTimeoutMs).catch((err2: unknown) =>
      d.log.error({ event: 'reload-failed', version: back.version, err: err2 }, 'reload after rollback failed too'),
    );
    throw new ReloadError(`reload of ${r.version} failed; rolled back to ${back.version}: ${e.message}`, { cause: e });
  }
}
