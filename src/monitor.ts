/**
 * The composition root: builds the source, the swap strategy, the triggers
 * and the child loggers from one config, and hands them to the cycle. No logic.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MonitorConfig } from './config.js';
import { fireTriggers, reloadEvent, runCycle, stagingRoot, type CycleHooks, type CycleOutcome } from './cycle.js';
import type { Logger } from './log.js';
import type { ServedRecord } from './model.js';
import { publishedView } from './publish/view.js';
import { createTriggers } from './reload/index.js';
import type { Source } from './sources/types.js';
import { acquireLock, readStatus, updateStatus, type Lock, type SyncStatus } from './state.js';
import { createSwap } from './swap/index.js';
import { settleDiscards } from './swap/disk.js';
import type { BackupInfo, SwapResult, SwapStrategy } from './swap/types.js';

export interface Monitor {
  readonly config: MonitorConfig;
  readonly source: Source;
  readonly swap: SwapStrategy;
  /** Lock, recover an interrupted swap, clean staging, check the served copy. */
  start(): Promise<void>;
  cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome>;
  rollback(): Promise<SwapResult>;
  status(): Promise<{ served: SwapResult | null; backups: BackupInfo[]; status: SyncStatus }>;
  close(): Promise<void>;
}

async function md5File(p: string): Promise<string> {
  const h = createHash('md5');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Invariant 9: the served copy still matches its record (sizes; hashes with --verify-on-start). */
async function servedIntact(r: ServedRecord, dir: string, hashes: boolean): Promise<string | null> {
  for (const f of r.files) {
    const p = path.join(dir, ...f.path.split('/'));
    const s = await lstat(p).catch(() => null);
    if (!s || s.size !== f.size) return `${f.path}: ${s ? `${s.size} bytes, recorded ${f.size}` : 'missing'}`;
    if (hashes && f.md5 && (await md5File(p)) !== f.md5) return `${f.path}: md5 differs from the record`;
  }
  return null;
}

export function createMonitor(config: MonitorConfig, log: Logger): Monitor {
  const sourceLog = log.child({ component: 'source', source: config.factory.kind });
  const raw = config.factory.create(config.sourceOptions, { log: sourceLog, timeoutMs: config.timeoutMs, concurrency: config.concurrency });
  // A model that `publish` wrote is read through its version manifest; any other remote passes through as is.
  const source = publishedView(raw, { model: config.remoteModel, donefile: config.remoteDonefile, timeoutMs: config.timeoutMs, retries: config.retries, log: sourceLog });
  const swap = createSwap(config.swap, {
    servedPath: config.servedPath,
    workDir: config.workDir,
    name: config.modelName,
    keepBackups: config.keepBackups,
    fsync: config.fsync,
  });
  const triggers = createTriggers(config);
  const cycleLog = log.child({ component: 'cycle' });
  let lock: Lock | null = null;
  let force = false;

  async function start(): Promise<void> {
    lock = await acquireLock(config.workDir, config.modelName, config.servedPath);
    const outcome = await swap.recover({ log: cycleLog, signal: new AbortController().signal });
    // Staging left by a crash is kept: it is keyed by donefile fingerprint, resumed only for that same
    // version, and never swapped in without passing verify (see staging.ts).
    // Crash mid writeJsonAtomic: the tmp file never became the record; the old record stands.
    for (const f of await readdir(config.workDir)) {
      if (f.startsWith(`${config.modelName}.`) && f.endsWith('.tmp')) await rm(path.join(config.workDir, f), { force: true });
    }
    const cur = await swap.current();
    if (cur && outcome === 'completed') {
      // The interrupted swap is finished on disk, but the engine was never told: tell it now.
      await fireTriggers({ triggers, log: cycleLog }, reloadEvent(cur, null), config.execTimeoutMs).catch((err: unknown) =>
        log.error({ event: 'reload-failed', version: cur.version, err }, 'reload after recovery failed'),
      );
    }
    if (cur) {
      const bad = await servedIntact(cur.record, cur.servedPath, config.verifyOnStart);
      if (bad) {
        log.warn({ event: 'served-mismatch', version: cur.version, detail: bad }, 'served model does not match its record; it will be pulled again');
        force = true;
      }
    }
    log.info({ event: 'start', remote: config.displayUrl, served: config.servedPath, version: cur?.version ?? null, recover: outcome }, 'model-monitor started');
  }

  /** The last outcome written to the status file: an idle poll that changes nothing writes nothing. */
  let recorded = '';
  async function record(patch: Partial<SyncStatus>): Promise<void> {
    const key = JSON.stringify([patch.lastOutcome, patch.lastError]);
    if (key === recorded) return;
    await updateStatus(config.workDir, config.modelName, patch);
    recorded = key;
  }

  async function cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome> {
    try {
      const out = await runCycle({ source, swap, triggers, config, log: cycleLog, force, ...(hooks ? { hooks } : {}) }, signal);
      if (out.kind === 'updated') force = false;
      // runCycle has recorded an update itself (lastSuccessAt); other outcomes are recorded when they change.
      await record({ lastOutcome: out.kind === 'skipped-rejected' ? 'rejected' : out.kind === 'updated' ? 'updated' : out.kind, lastError: undefined });
      return out;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      await record({ lastOutcome: 'failed', lastError: { code: e.code ?? 'E_UNKNOWN', message: String(e.message) } }).catch(() => {});
      throw err;
    }
  }

  async function rollback(): Promise<SwapResult> {
    const before = await swap.current();
    const r = await swap.rollback({ log: cycleLog, signal: new AbortController().signal });
    // The rolled-back-from donefile stays rejected until the producer publishes a new one.
    if (before) {
      await updateStatus(config.workDir, config.modelName, {
        rejected: { fingerprint: before.record.fingerprint, reason: 'rolled back by the operator', at: new Date().toISOString() },
        lastOutcome: 'rolled-back',
      });
    }
    await fireTriggers({ triggers, log: cycleLog }, reloadEvent(r, before?.version ?? null), config.execTimeoutMs);
    return r;
  }

  async function status() {
    return { served: await swap.current(), backups: await swap.backups(), status: await readStatus(config.workDir, config.modelName) };
  }

  async function close(): Promise<void> {
    await source.close().catch(() => {});
    await rm(stagingRoot(config), { recursive: true, force: true }).catch(() => {});
    await settleDiscards();
    await lock?.release();
  }

  return { config, source, swap, start, cycle, rollback, status, close };
}
