/**
 * The pipeline's values, in TF Serving's terms: a source says which version
 * should be served (Aspired); fetch produces a Staged tree; only verify can
 * brand it Verified, and only a Verified tree can be swapped in.
 */
declare const verifiedBrand: unique symbol;

/** One file of a model as recorded: relative POSIX path, size, md5 when known. */
export interface FileRecord {
  readonly path: string;
  readonly size: number;
  readonly md5?: string;
  /** The remote file's mtime and ETag when it was pulled: --incremental's quick check. */
  readonly remoteMtimeMs?: number;
  readonly etag?: string;
  /** Key of this file's chunk index in the work dir's index store (chunk/index-store.ts), when publish wrote one. */
  readonly chunkIndex?: string;
}

/** The version the remote says should be served, from the donefile. */
export interface Aspired {
  /** Sortable, filesystem-safe label: `20261123T143000Z-1a2b3c4d`. */
  readonly version: string;
  /** What identifies this donefile state: `mtime:…`, `md5:…`, `etag:…` plus size. */
  readonly fingerprint: string;
  /** Remote model path relative to the source root. */
  readonly remoteModel: string;
  /** Donefile content (when read: --detect content, or a manifest donefile). */
  readonly donefile?: string;
}

export interface Staged {
  /** The staged model directory (same filesystem as the served path). */
  readonly dir: string;
  readonly aspired: Aspired;
  /** What was written, with md5s computed while streaming where asked. */
  readonly files: readonly FileRecord[];
  /** For an archive model: the archive as downloaded (its md5 when asked). */
  readonly archive?: FileRecord;
  /** Planned paths whose reads named their version (ETag or mtime), and it was the listed one. */
  readonly confirmed?: ReadonlySet<string>;
  /** Bytes read from the remote for this pull (chunk indexes included) and bytes taken from the served copy. */
  readonly bytes?: { readonly fetched: number; readonly reused: number };
}

export type Verified = Staged & { readonly [verifiedBrand]: true };

/** Only verify.ts calls this, after the checks pass. */
export function brandVerified(s: Staged): Verified {
  return s as Verified;
}

/** What is recorded beside a served model or a backup: enough to re-check and roll back. */
export interface ServedRecord {
  readonly version: string;
  readonly fingerprint: string;
  readonly remote: string;
  readonly appliedAt: string;
  readonly files: readonly FileRecord[];
  /** `dev:ino` of the directory this record speaks of (--swap rename): a record never names another directory. */
  readonly dirId?: string;
}
