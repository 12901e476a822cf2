/**
 * record: the pipeline's last stage. The one writer of a monitor's status
 * file (state.ts): how each cycle ended (its outcome, its error, when it last
 * updated, the fleet view of freshness.ts), written once it has ended and only
 * when that changed (an idle poll writes nothing); a rejected donefile (a
 * failed --validate, a reload rolled back, `rollback`), written at once, so a
 * crash right after it never pulls that donefile again. (`accept`, a separate
 * process, clears a rejection through state.ts.)
 */
import type { CycleOutcome } from './cycle.js';
import type { FreshnessView } from './freshness.js';
import type { Logger } from './log.js';
import { updateStatus, type Rejection, type SyncStatus } from './state.js';

/** How a cycle ended. */
export type CycleEnd = CycleOutcome | { readonly kind: 'failed'; readonly err: unknown };

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** What the status file keeps of a FreshnessView (ISO times), for `status --json`. */
export function freshnessRecord(v: FreshnessView): Pick<SyncStatus, 'remote' | 'staleSince'> {
  return {
    remote: v.remote && { version: v.remote.version, fingerprint: v.remote.fingerprint, seenAt: new Date(v.remote.seenAt).toISOString() },
    staleSince: iso(v.staleSince),
  };
}

/** The status file's change for a cycle that ended so (pure). `lastError` is cleared by any outcome but a failure. */
export function statusPatch(end: CycleEnd, fresh: FreshnessView, now: Date): Partial<SyncStatus> {
  if (end.kind === 'failed') {
    const e = end.err as { code?: unknown; message?: unknown };
    return {
      lastOutcome: 'failed',
      lastError: { code: typeof e?.code === 'string' ? e.code : 'E_UNKNOWN', message: String(e?.message) },
      ...freshnessRecord(fresh),
    };
  }
  const lastOutcome = end.kind === 'skipped-rejected' ? 'rejected' : end.kind;
  const update =
    end.kind === 'updated'
      ? {
          lastSuccessAt: now.toISOString(),
          lastUpdate: { version: end.version, bytes: end.bytes, fetchedBytes: end.fetchedBytes, reusedBytes: end.reusedBytes },
        }
      : {};
  return { lastOutcome, lastError: undefined, ...update, ...freshnessRecord(fresh) };
}

export interface StatusRecordOptions {
  readonly workDir: string;
  readonly name: string;
  readonly log: Logger;
  /** The monitor's freshness, recorded with each outcome (none for the local commands). */
  readonly freshness?: () => FreshnessView;
}

export class StatusRecord {
  /** The last patch written: the same again writes nothing. */
  private last = '';

  constructor(private readonly o: StatusRecordOptions) {}

  /** A donefile not to pull again until it changes (or `accept`): written at once. */
  async reject(rejected: Rejection, lastOutcome?: SyncStatus['lastOutcome']): Promise<void> {
    await updateStatus(this.o.workDir, this.o.name, { rejected, ...(lastOutcome ? { lastOutcome } : {}) });
    this.last = '';
  }

  /**
   * How a cycle ended, written when it changed. Past a swap and its reload the
   * update has happened: a status file that cannot be written then (disk full)
   * is logged, not a failure of it; a failed cycle's record never masks its error.
   */
  async ended(end: CycleEnd): Promise<void> {
    const patch = statusPatch(end, this.o.freshness?.() ?? { remote: null, staleSince: null }, new Date());
    const key = JSON.stringify(patch);
    if (key === this.last) return;
    try {
      await updateStatus(this.o.workDir, this.o.name, patch);
      this.last = key;
    } catch (err) {
      if (end.kind === 'updated') this.o.log.warn({ event: 'status-write-failed', err }, 'could not write the status file');
      else if (end.kind !== 'failed') throw err;
    }
  }
}
