import type { Logger } from '../log.js';
import type { ServedRecord, Verified } from '../model.js';
import type { Discarder } from './discard.js';

export interface SwapContext {
  readonly log: Logger;
  readonly signal: AbortSignal;
}

export interface SwapResult {
  /** Where the model's files are: the served dir (rename), the served link (symlink), or the version dir (versioned). */
  readonly modelDir: string;
  readonly version: string;
  /** Where the previous model now is (a backup dir), or null when there was none. */
  readonly backupPath: string | null;
  readonly record: ServedRecord;
}

export interface BackupInfo {
  readonly path: string;
  readonly version: string;
  readonly fingerprint: string;
  readonly appliedAt: string;
}

/** The only writer of the served path (git-sync's publishSymlink; TF Serving's policies). */
export interface SwapStrategy {
  readonly name: 'rename' | 'symlink' | 'versioned';
  /** Derived from disk each time, never cached. */
  current(): Promise<SwapResult | null>;
  /** Puts the verified model in place atomically; the old one becomes a backup. */
  swap(model: Verified, record: ServedRecord, ctx: SwapContext): Promise<SwapResult>;
  /** Puts the newest backup back in; throws NoBackupError. */
  rollback(ctx: SwapContext): Promise<SwapResult>;
  /** Once at start-up, before the first cycle: finishes or undoes an interrupted swap. */
  recover(ctx: SwapContext): Promise<'clean' | 'completed' | 'undone'>;
  /** Backups kept, newest first. */
  backups(): Promise<BackupInfo[]>;
}

/** Where a strategy keeps its things: all on the served path's filesystem. */
export interface SwapLayout {
  /** `<local_path>/<local_model_name>`. */
  readonly servedPath: string;
  /** `<local_path>/<local_tmp_path>`: staging, backups, records, journal, lock. */
  readonly workDir: string;
  /** `local_model_name`, used to name things in workDir. */
  readonly name: string;
  readonly keepBackups: number;
  /** fsync staged files and dirs before the rename (--fsync). */
  readonly fsync: boolean;
  /** Deletes old copies in the background: one per monitor (monitor.ts settles it on close). */
  readonly discarder: Discarder;
}
