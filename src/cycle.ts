/**
 * One sync cycle, the same for every source and mode:
 *   detect → plan → fetch → verify → check → swap → reload → record
 * A failure before swap discards staging and leaves the served model as it was.
 * The choice after detect is decide(), a pure function. Every write of the
 * status file goes through the monitor's record step (record.ts): a rejection
 * at once, how the cycle ended once it has.
 */
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { checkDiskSpace, runValidate } from './check.js';
import type { MonitorConfig } from './config.js';
import { NEVER } from './deadline.js';
import { confirmOneVersion } from './confirm.js';
import { detect, type DetectOptions } from './detect.js';
import { abortReason, isRetryable, ModelChangedError, MonitorError, ReloadError, TransientError, ValidateError } from './errors.js';
import { fetchModel, type FetchOptions } from './fetch.js';
import { IndexStore, indexStoreDir } from './chunk/index-store.js';
import type { Logger } from './log.js';
import { joinDisplay } from './options.js';
import type { Aspired, ServedRecord, Staged } from './model.js';
import { plan, type FetchPlan, type PlanOptions } from './plan.js';
import type { ReloadEvent, ReloadTrigger } from './reload/types.js';
import type { Source } from './sources/types.js';
import { spreadBeforePull } from './spread.js';
import { stagingDirFor } from './staging.js';
import type { WireEngine } from './wire/engine.js';
import type { StatusRecord } from './record.js';
import { readStatus } from './state.js';
import type { SwapResult, SwapStrategy } from './swap/types.js';
import type { CoreValues } from './values.js';
import { verify } from './verify.js';

export interface CycleDeps {
  readonly source: Source;
  readonly swap: SwapStrategy;
  readonly triggers: readonly ReloadTrigger[];
  readonly config: MonitorConfig;
  readonly log: Logger;
  /** Pull even if the served fingerprint matches (the served copy failed its start-up check). */
  readonly force?: boolean;
  readonly hooks?: CycleHooks | undefined;
  /** The record step: here, the rejections (a failed --validate, a reload rolled back), written when they happen. */
  readonly record: Pick<StatusRecord, 'reject'>;
  /** The monitor's wire engine (--data-path wire): warmed as a pull begins. */
  readonly wire?: WireEngine | null;
}

export interface CycleHooks {
  /** The remote's newest version, as detect saw it (fleet metrics, staleness). */
  onAspired?(a: Aspired): void;
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
      /** Bytes read from the remote by this pull (chunk indexes included; less than `bytes` with --incremental or a delta). */
      readonly fetchedBytes: number;
      /** Bytes taken from the served copy: whole files (--incremental) and unchanged chunks (a delta). */
      readonly reusedBytes: number;
    };

/** What detect's answer leads to: nothing to do (and why), or a pull of that version. */
export type Decision = Exclude<CycleOutcome, { kind: 'updated' }> | { readonly kind: 'pull'; readonly aspired: Aspired };

export interface DecideInput {
  /** What the donefile says should be served; null = no donefile. */
  readonly aspired: Aspired | null;
  /** What is served (its version and donefile fingerprint), or null. */
  readonly served: { readonly version: string; readonly fingerprint: string } | null;
  /** The fingerprint rollback, --validate or a failed reload rejected, or null. */
  readonly rejected: string | null;
  /** Pull even when the served fingerprint matches (the served copy failed its start-up check). */
  readonly force: boolean;
}

/** The current / rejected / pull choice: a served match wins over a rejection (rollback's own state is current). */
export function decide(i: DecideInput): Decision {
  if (!i.aspired) return { kind: 'no-donefile' };
  if (!i.force && i.served?.fingerprint === i.aspired.fingerprint) return { kind: 'current', version: i.served.version };
  if (i.rejected === i.aspired.fingerprint) return { kind: 'skipped-rejected', fingerprint: i.aspired.fingerprint };
  return { kind: 'pull', aspired: i.aspired };
}

export const stagingRoot = (c: Pick<MonitorConfig, 'workDir' | 'modelName'>) => path.join(c.workDir, `${c.modelName}.staging`);

/**
 * --min-rate, but never above a quarter of one stream's share of --bwlimit: a
 * transfer we hold back ourselves is not a trickling server.
 */
export function rateFloor(c: Pick<MonitorConfig, 'minRate' | 'bwlimit' | 'concurrency'>): number {
  return c.bwlimit > 0 ? Math.min(c.minRate, Math.floor(c.bwlimit / c.concurrency / 4)) : c.minRate;
}

/** fetch's options from the core's values, for this plan (a cycle's, or kserve-init's). */
export function fetchOptions(
  c: CoreValues,
  p: FetchPlan,
  o: Pick<FetchOptions, 'stagingRoot' | 'servedDir' | 'partSize' | 'timestampFile'> & { readonly hooks?: CycleHooks | undefined },
): FetchOptions {
  return {
    stagingRoot: o.stagingRoot,
    servedDir: o.servedDir,
    partSize: o.partSize,
    timestampFile: o.timestampFile,
    concurrency: c.concurrency,
    bwlimit: c.bwlimit,
    wire: c.dataPath === 'wire',
    partSizeGiven: c.partSizeGiven,
    timeoutMs: c.timeoutMs,
    retries: c.retries,
    minBytesPerSec: rateFloor(c),
    md5: c.verify === 'md5' || (c.verify === 'auto' && (p.manifest !== null || p.files.some((f) => f.md5))),
    unpackedFilename: c.unpackedFilename,
    maxUnpackRatio: c.maxUnpackRatio,
    onBytes: o.hooks?.onBytes?.bind(o.hooks),
    onFile: o.hooks?.onFile?.bind(o.hooks),
  };
}

const detectOptions = (c: MonitorConfig): DetectOptions => ({
  donefile: c.remoteDonefile,
  remoteModel: c.remoteModel,
  mode: c.detect,
  timeoutMs: c.timeoutMs,
  retries: c.retries,
});

const planOptions = (c: MonitorConfig): PlanOptions => ({
  manifestName: c.manifest,
  verify: c.verify,
  donefile: c.remoteDonefile,
  incremental: c.incremental,
  timeoutMs: c.timeoutMs,
  retries: c.retries,
  archive: c.unpackedFilename !== null,
  neverReuse: [c.timestampFile ?? ''],
});

async function timed<T>(d: CycleDeps, phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    d.hooks?.onPhase?.(phase, performance.now() - t0);
  }
}

/** Pulls that may find the remote model changing under them (a producer mid-publish) before the cycle fails. */
const CHANGE_ATTEMPTS = 3;

/**
 * One cycle. A model that changed while it was pulled is never swapped in: its
 * staging is discarded and the cycle starts over from the donefile, a few
 * times, then fails (watch retries it with backoff).
 */
export async function runCycle(d: CycleDeps, signal: AbortSignal): Promise<CycleOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cycleOnce(d, signal, attempt);
    } catch (err) {
      if (!(err instanceof ModelChangedError) || signal.aborted) throw err;
      if (attempt >= CHANGE_ATTEMPTS) {
        throw new TransientError(`the remote model kept changing while it was pulled (${attempt} attempts): ${err.message}`, { cause: err });
      }
      d.log.warn({ event: 'model-changed', attempt, detail: err.message }, `${err.message}; discarding what was fetched and pulling again`);
      await delay(500 * attempt, undefined, { signal }).catch(() => {});
    }
  }
}

async function cycleOnce(d: CycleDeps, signal: AbortSignal, attempt: number): Promise<CycleOutcome> {
  const c = d.config;
  const ctx = { signal, log: d.log };
  const aspired = await timed(d, 'detect', () => detect(d.source, detectOptions(c), ctx));
  if (aspired) d.hooks?.onAspired?.(aspired);
  const served = aspired && (await d.swap.current());
  const rejected = aspired && ((await readStatus(c.workDir, c.modelName)).rejected?.fingerprint ?? null);
  const choice = decide({ aspired, served: served && { version: served.version, fingerprint: served.record.fingerprint }, rejected, force: d.force ?? false });
  if (choice.kind !== 'pull') return choice;
  const a = choice.aspired;
  d.log.info({ event: 'change', version: a.version, fingerprint: a.fingerprint }, 'donefile changed, pulling the model');
  // --spread: a fleet does not pull in the same second (once per change: a pull started over does not wait again)
  if (attempt === 1) await spreadBeforePull(c.spreadMs, ctx);
  const { result, fetchedBytes, reusedBytes } = await pullAndSwap(d, a, served, signal);
  await reload(d, result, served);
  const files = result.record.files;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return { kind: 'updated', version: result.version, previous: served?.version ?? null, bytes, files: files.length, fetchedBytes, reusedBytes };
}

interface Pulled {
  readonly result: SwapResult;
  readonly fetchedBytes: number;
  readonly reusedBytes: number;
}

/** The chunk indexes kept in the work dir (the served model's and its backups'). */
const indexStore = (c: Pick<MonitorConfig, 'workDir' | 'modelName'>) => new IndexStore(indexStoreDir(c.workDir, c.modelName));

/**
 * After a swap: the new record's chunk indexes are the newest generation, and
 * as many generations are kept as models are (the served one and its backups).
 * A failure is logged: the next pull of a file whose index went missing is a whole-file pull.
 */
async function pruneIndexes(d: CycleDeps, r: SwapResult): Promise<void> {
  const keys = r.record.files.flatMap((f) => (f.chunkIndex ? [f.chunkIndex] : []));
  await indexStore(d.config)
    .prune(keys, d.config.keepBackups + 1)
    .catch((err: unknown) => d.log.warn({ event: 'prune-failed', err }, 'could not prune the chunk index store'));
}

/**
 * Whether a pull warms the wire engine as it begins: the workers boot (tens of
 * ms each) while the model is listed, up by the first download. Not for a
 * source with no download() (file://) or under --bwlimit (the stock path
 * then): they would only sit idle.
 */
export function warmsWire(source: Pick<Source, 'download'>, c: Pick<MonitorConfig, 'bwlimit' | 'dataPath'>): boolean {
  return c.dataPath === 'wire' && source.download !== undefined && c.bwlimit === 0;
}

async function pullAndSwap(d: CycleDeps, a: Aspired, served: SwapResult | null, signal: AbortSignal): Promise<Pulled> {
  const c = d.config;
  const ctx = { signal, log: d.log };
  if (warmsWire(d.source, c)) d.wire?.warm();
  const p = await timed(d, 'plan', () => plan(d.source, a, served?.record ?? null, planOptions(c), ctx));
  d.hooks?.onPlan?.(p);
  await checkDiskSpace(c.workDir, p.totalBytes, p.files.length);
  let keepStaging = false;
  try {
    const fo = fetchOptions(c, p, {
      stagingRoot: stagingRoot(c),
      servedDir: served?.modelDir ?? null,
      partSize: c.partSize,
      timestampFile: c.timestampFile,
      hooks: d.hooks,
    });
    const delta = { store: indexStore(c), servedDir: served?.modelDir ?? null, servedFiles: new Map((served?.record.files ?? []).map((f) => [f.path, f])) };
    const staged: Staged = await timed(d, 'fetch', () => fetchModel(d.source, p, { ...fo, delta }, ctx));
    await timed(d, 'confirm', () => confirmOneVersion(d.source, p, staged, { detect: detectOptions(c), plan: planOptions(c) }, ctx));
    const verified = verify(p, staged, { mode: c.verify, ignore: [c.timestampFile ?? '', c.manifest ?? ''].filter(Boolean) });
    if (c.validate) await timed(d, 'validate', () => validateOrReject(d, verified.dir, a, signal));
    signal.throwIfAborted();
    const record: ServedRecord = {
      version: a.version,
      fingerprint: a.fingerprint,
      remote: joinDisplay(d.source.displayUrl, a.remoteModel),
      appliedAt: new Date().toISOString(),
      files: verified.files,
    };
    // From here on the swap runs to its end whatever the signal says: it is short and never leaves a partial model.
    const result = await timed(d, 'swap', () => d.swap.swap(verified, record, { log: d.log, signal: NEVER }));
    await pruneIndexes(d, result);
    return { result, fetchedBytes: staged.bytes?.fetched ?? p.totalBytes, reusedBytes: staged.bytes?.reused ?? 0 };
  } catch (err) {
    // A dropped connection or a shutdown keeps what was fetched: the next attempt at this version resumes.
    keepStaging = isRetryable(err) || signal.aborted;
    if (signal.aborted && !(err instanceof MonitorError)) throw abortReason(signal);
    throw err;
  } finally {
    // Never masks the cycle's own error. maxRetries: an aborted tar extraction may still be finishing its last writes.
    if (!keepStaging) {
      await rm(stagingDirFor(stagingRoot(c), a.fingerprint), { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }).catch((err: unknown) =>
        d.log.warn({ event: 'staging-cleanup-failed', err }, 'could not remove the staging dir; the next cycle will'),
      );
    }
  }
}

async function validateOrReject(d: CycleDeps, dir: string, a: Aspired, signal: AbortSignal): Promise<void> {
  const c = d.config;
  try {
    await runValidate(c.validate!, dir, a.version, { timeoutMs: c.validateTimeoutMs, signal, log: d.log });
  } catch (err) {
    // This donefile is not pulled again until it changes (or `accept`).
    if (err instanceof ValidateError) await d.record.reject({ fingerprint: a.fingerprint, reason: err.message, at: new Date().toISOString() });
    throw err;
  }
}

/**
 * Fires every trigger in turn. Each applies its own deadline (--exec-timeout), so a hook killed on it
 * says "timed out"; `signal` cancels them (by default nothing does: a reload after a swap runs to its end).
 */
export async function fireTriggers(d: Pick<CycleDeps, 'triggers' | 'log'>, e: ReloadEvent, signal: AbortSignal = NEVER): Promise<void> {
  for (const t of d.triggers) {
    const t0 = performance.now();
    await t.fire(e, { log: d.log, signal });
    d.log.info({ event: 'reload', trigger: t.name, version: e.version, durationMs: Math.round(performance.now() - t0) }, `reload: ${t.name}`);
  }
}

export function reloadEvent(r: SwapResult, previousVersion: string | null): ReloadEvent {
  return { modelDir: r.modelDir, version: r.version, previousVersion, previousDir: r.backupPath };
}

async function reload(d: CycleDeps, r: SwapResult, served: SwapResult | null): Promise<void> {
  const c = d.config;
  try {
    await timed(d, 'reload', () => fireTriggers(d, reloadEvent(r, served?.version ?? null)));
  } catch (err) {
    const e = new ReloadError(`reload failed after swapping in ${r.version}: ${(err as Error).message}`, { cause: err, served: r.version });
    if (!c.rollbackOnReloadFailure || !served) throw e;
    d.log.error({ event: 'reload-failed', version: r.version, err: e }, 'reload failed; rolling back');
    const back = await d.swap.rollback({ log: d.log, signal: NEVER });
    // Written before the triggers run: a crash during them must not pull the rolled-back donefile again.
    await d.record.reject({ fingerprint: r.record.fingerprint, reason: e.message, at: new Date().toISOString() }, 'rolled-back');
    await fireTriggers(d, reloadEvent(back, r.version)).catch((err2: unknown) =>
      d.log.error({ event: 'reload-failed', version: back.version, err: err2 }, 'reload after rollback failed too'),
    );
    throw new ReloadError(`reload of ${r.version} failed; rolled back to ${back.version}: ${(err as Error).message}`, { cause: e, served: back.version });
  }
}
