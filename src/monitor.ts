/**
 * The composition root: builds the source, the swap strategy, the triggers
 * and the child loggers from one config, and hands them to the cycle. No logic.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { LocalConfig, MonitorConfig } from './config.js';
import { NEVER } from './deadline.js';
import { fireTriggers, reloadEvent, runCycle, stagingRoot, type CycleHooks, type CycleOutcome } from './cycle.js';
import { ConfigError } from './errors.js';
import { Freshness, type FreshnessView } from './freshness.js';
import type { Logger } from './log.js';
import { linksAmong, sameFilesystem } from './paths.js';
import type { ServedRecord } from './model.js';
import { checkLocalDirs } from './local-dirs.js';
import { monitorSource } from './publish/view.js';
import { createTriggers } from './reload/index.js';
import type { ReloadTrigger } from './reload/types.js';
import type { Source } from './sources/types.js';
import { acquireLock, readStatus, updateStatus, type Lock, type SyncStatus } from './state.js';
import { createSwap } from './swap/index.js';
import { settleDiscards } from './swap/disk.js';
import type { BackupInfo, SwapResult, SwapStrategy } from './swap/types.js';

/** What the local commands need (rollback, status, accept): no source. */
export interface LocalMonitor {
  readonly config: LocalConfig;
  readonly swap: SwapStrategy;
  /** Check the local dirs, lock, recover an interrupted swap, clean staging. */
  start(): Promise<void>;
  rollback(): Promise<SwapResult>;
  status(): Promise<{ served: SwapResult | null; backups: BackupInfo[]; status: SyncStatus }>;
  close(): Promise<void>;
}

export interface Monitor extends LocalMonitor {
  readonly config: MonitorConfig;
  readonly source: Source;
  /** Lock, recover an interrupted swap, clean staging, check the served copy. */
  start(): Promise<void>;
  cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome>;
  /** The remote's newest version and this replica's staleness (freshness.ts), for /metrics. */
  freshness(): Freshness;
}

const isoOrNull = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const msOrNull = (s: string | null | undefined) => (s ? Date.parse(s) || null : null);

/** What the status file keeps of a FreshnessView (ISO times), for `status --json`. */
function freshnessRecord(v: FreshnessView): Pick<SyncStatus, 'remote' | 'staleSince'> {
  return { remote: v.remote && { version: v.remote.version, fingerprint: v.remote.fingerprint, seenAt: new Date(v.remote.seenAt).toISOString() }, staleSince: isoOrNull(v.staleSince) };
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

/**
 * Checked at start, before any download (exit 2): nothing under the work dir
 * that the tool owns is a symbolic link (everything it writes, empties or
 * deletes there would land in the link's target), and staging is on the
 * served path's filesystem (else the swap's rename fails with EXDEV, or EBUSY
 * on a mount point, after the whole pull).
 */
export async function checkLocalLayout(c: Pick<LocalConfig, 'workDir' | 'modelName' | 'servedPath'>): Promise<void> {
  const links = await linksAmong(c.workDir, `${c.modelName}.`);
  if (links.length > 0) {
    throw new ConfigError('local-tmp-path', `${links[0]} is a symbolic link; model-monitor never writes through a link in its work dir (remove it)`);
  }
  if (!(await sameFilesystem(c.workDir, c.servedPath))) {
    throw new ConfigError(
      'local-tmp-path',
      `${c.workDir} (staging and backups) and ${c.servedPath} (the served model) are on different filesystems ` +
        '(is the served path a mount point?); a swap must be one rename on one filesystem: put both under one mount',
    );
  }
}

/** What createMonitor builds on: the recovery outcome of start(), and the triggers (one set per monitor). */
type LocalParts = LocalMonitor & { readonly recovered: () => string; readonly triggers: readonly ReloadTrigger[] };

export function createLocalMonitor(config: LocalConfig, log: Logger): LocalParts {
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
  let recovered = 'clean';
  /** Past the start-up checks: only then does close() clean up the work dir. */
  let started = false;

  async function start(): Promise<void> {
    // Before the lock (which creates the staging dir): an unwritable --local_path is bad input, exit 2.
    await checkLocalDirs(config);
    lock = await acquireLock(config.workDir, config.modelName, config.servedPath, (h) =>
      log.warn({ event: 'stale-lock', pid: h?.pid ?? null }, `took over a stale lock${h ? ` (pid ${h.pid} is gone or is another process now)` : ''}`),
    );
    await checkLocalLayout(config);
    started = true;
    const outcome = await swap.recover({ log: cycleLog, signal: NEVER });
    recovered = outcome;
    // Staging left by a crash is kept: it is keyed by donefile fingerprint, resumed only for that same
    // version, and never swapped in without passing verify (see staging.ts).
    // Crash mid writeJsonAtomic: the tmp file never became the record; the old record stands.
    for (const f of await readdir(config.workDir)) {
      if (f.startsWith(`${config.modelName}.`) && f.endsWith('.tmp')) await rm(path.join(config.workDir, f), { force: true });
    }
    const cur = await swap.current();
    if (cur && outcome === 'completed') {
      // The interrupted swap is finished on disk, but the engine was never told: tell it now.
      await fireTriggers({ triggers, log: cycleLog }, reloadEvent(cur, null)).catch((err: unknown) =>
        log.error({ event: 'reload-failed', version: cur.version, err }, 'reload after recovery failed'),
      );
    }
  }

  async function rollback(): Promise<SwapResult> {
    const before = await swap.current();
    const r = await swap.rollback({ log: cycleLog, signal: NEVER });
    // The rolled-back-from donefile stays rejected until the producer publishes a new one, or `accept`.
    if (before) {
      await updateStatus(config.workDir, config.modelName, {
        rejected: { fingerprint: before.record.fingerprint, reason: 'rolled back by the operator', at: new Date().toISOString(), byOperator: true },
        lastOutcome: 'rolled-back',
      });
    }
    await fireTriggers({ triggers, log: cycleLog }, reloadEvent(r, before?.version ?? null));
    return r;
  }

  async function status() {
    return { served: await swap.current(), backups: await swap.backups(), status: await readStatus(config.workDir, config.modelName) };
  }

  async function close(): Promise<void> {
    if (lock && started) await rm(stagingRoot(config), { recursive: true, force: true }).catch(() => {});
    await settleDiscards();
    await lock?.release();
  }

  return { config, swap, start, rollback, status, close, recovered: () => recovered, triggers };
}

export function createMonitor(config: MonitorConfig, log: Logger): Monitor {
  // A model that `publish` wrote is read through its version manifest; any other remote passes through as is.
  const source = monitorSource(config, {
    log: log.child({ component: 'source', source: config.factory.kind }),
    timeoutMs: config.timeoutMs,
    concurrency: config.concurrency,
    retries: config.retries,
  });
  const local = createLocalMonitor(config, log);
  const { swap, triggers } = local;
  const cycleLog = log.child({ component: 'cycle' });
  let force = false;
  let fresh = new Freshness({ servedFingerprint: null });

  async function start(): Promise<void> {
    await local.start();
    const cur = await swap.current();
    if (cur) {
      const bad = await servedIntact(cur.record, cur.servedPath, config.verifyOnStart);
      if (bad) {
        log.warn({ event: 'served-mismatch', version: cur.version, detail: bad }, 'served model does not match its record; it will be pulled again');
        force = true;
      }
    }
    const st = await readStatus(config.workDir, config.modelName);
    const remote = st.remote ? { ...st.remote, seenAt: msOrNull(st.remote.seenAt) ?? Date.now() } : null;
    fresh = new Freshness({ servedFingerprint: cur?.record.fingerprint ?? null, staleSince: msOrNull(st.staleSince), remote });
    log.info({ event: 'start', remote: config.displayUrl, served: config.servedPath, version: cur?.version ?? null, recover: local.recovered() }, 'model-monitor started');
  }

  /** The last outcome written to the status file: an idle poll that changes nothing writes nothing. */
  let recorded = '';
  async function record(patch: Partial<SyncStatus>): Promise<void> {
    const full = { ...patch, ...freshnessRecord(fresh.view()) };
    const key = JSON.stringify([full.lastOutcome, full.lastError, full.remote?.fingerprint, full.staleSince]);
    if (key === recorded) return;
    await updateStatus(config.workDir, config.modelName, full);
    recorded = key;
  }

  async function cycle(signal: AbortSignal, hooks?: CycleHooks): Promise<CycleOutcome> {
    const withFreshness: CycleHooks = { ...hooks, onAspired: (a) => (fresh.aspired(a), hooks?.onAspired?.(a)) };
    try {
      const out = await runCycle({ source, swap, triggers, config, log: cycleLog, force, hooks: withFreshness }, signal);
      fresh.outcome(out.kind);
      if (out.kind === 'updated') force = false;
      // runCycle has recorded an update itself (lastSuccessAt); other outcomes are recorded when they change.
      await record({ lastOutcome: out.kind === 'skipped-rejected' ? 'rejected' : out.kind === 'updated' ? 'updated' : out.kind, lastError: undefined });
      return out;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (!signal.aborted) fresh.outcome('failed');
      await record({ lastOutcome: 'failed', lastError: { code: e.code ?? 'E_UNKNOWN', message: String(e.message) } }).catch(() => {});
      throw err;
    }
  }

  async function close(): Promise<void> {
    await source.close().catch(() => {});
    await local.close();
  }

  return { config, swap, rollback: local.rollback, status: local.status, source, start, cycle, freshness: () => fresh, close };
}
