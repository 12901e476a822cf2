/**
 * Convergence you can see: what the remote says is newest, and how long this
 * replica has gone without confirming that it serves it (staleness). One
 * tracker per monitor, fed by the cycle (detect's Aspired, each outcome);
 * /metrics and `status --json` read it.
 *
 * Staleness is the seconds since the last cycle that confirmed the served
 * model is the remote's newest (ended `current` or `updated`), counted from
 * the moment something says otherwise: a newer donefile seen (the pull is
 * under way, or failing), a cycle that failed (the remote is unreachable: the
 * replica cannot know, so it counts as stale), no donefile, or a newest
 * version this replica rejected. It is 0 while the replica is confirmed
 * fresh. Counted from the last confirmation, not from the change, so it is
 * an upper bound on the real lag by at most one --interval.
 */
import type { CycleOutcome } from './cycle.js';

export interface VersionRef {
  readonly version: string;
  readonly fingerprint: string;
}

export interface FreshnessView {
  /** The remote's newest version as last seen, and when (epoch ms); null before the first detect. */
  readonly remote: (VersionRef & { readonly seenAt: number }) | null;
  /** Epoch ms since which this replica is not confirmed fresh; null while it is. */
  readonly staleSince: number | null;
}

export type OutcomeKind = CycleOutcome['kind'] | 'failed';

export interface FreshnessStart {
  /** The fingerprint of what is served at start, if anything. */
  readonly servedFingerprint: string | null;
  /** A staleSince recorded by an earlier run (status file), kept across restarts. */
  readonly staleSince?: number | null;
  readonly remote?: FreshnessView['remote'];
}

export class Freshness {
  private remote: FreshnessView['remote'];
  private staleSince: number | null;
  /** The served fingerprint as last confirmed fresh. */
  private confirmed: string | null;
  /** When this replica last confirmed it is fresh (process start until the first cycle). */
  private confirmedAt: number;

  constructor(
    start: FreshnessStart,
    private readonly now: () => number = Date.now,
  ) {
    this.remote = start.remote ?? null;
    this.staleSince = start.staleSince ?? null;
    this.confirmed = start.servedFingerprint;
    this.confirmedAt = now();
  }

  /** detect saw the remote's newest version. */
  aspired(a: VersionRef): void {
    const t = this.now();
    if (this.remote?.fingerprint !== a.fingerprint) this.remote = { version: a.version, fingerprint: a.fingerprint, seenAt: t };
    if (a.fingerprint !== this.confirmed) this.markStale();
  }

  /** A cycle ended. `current` and `updated` confirm the replica serves the newest version. */
  outcome(kind: OutcomeKind): void {
    if (kind === 'current' || kind === 'updated') {
      this.confirmed = this.remote?.fingerprint ?? this.confirmed;
      this.confirmedAt = this.now();
      this.staleSince = null;
      return;
    }
    if (kind === 'no-donefile') this.remote = null;
    this.markStale();
  }

  private markStale(): void {
    this.staleSince ??= this.confirmedAt;
  }

  view(): FreshnessView {
    return { remote: this.remote, staleSince: this.staleSince };
  }

  /** Seconds this replica has not been confirmed fresh; 0 while it is. */
  stalenessSeconds(): number {
    return this.staleSince === null ? 0 : Math.max(0, (this.now() - this.staleSince) / 1000);
  }
}
