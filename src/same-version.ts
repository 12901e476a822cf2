/**
 * Invariant 1's check, as pure functions: is what a server said about a file
 * (when it answered a read, or in a second listing) the version the plan was
 * made from? Sizes always, ETags and mtimes where both sides have them, mtimes
 * at the source's resolution (HTTP's Last-Modified is whole seconds).
 */
import type { Readable } from 'node:stream';
import { ModelChangedError } from './errors.js';
import { openedMeta, type OpenedMeta, type Source } from './sources/types.js';

export interface Listed {
  readonly size: number;
  readonly etag?: string;
  readonly mtimeMs?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** How `seen` differs from `listed`, or null when it may be the same version. */
export function versionDiff(listed: Listed, seen: OpenedMeta, mtimeResolutionMs: number): string | null {
  if (seen.size !== undefined && seen.size !== listed.size) return `${seen.size} bytes, listed as ${listed.size}`;
  if (seen.etag !== undefined && listed.etag !== undefined && seen.etag !== listed.etag) return `ETag ${seen.etag}, listed as ${listed.etag}`;
  const res = Math.max(1, mtimeResolutionMs);
  if (seen.mtimeMs !== undefined && listed.mtimeMs !== undefined && Math.floor(seen.mtimeMs / res) !== Math.floor(listed.mtimeMs / res)) {
    return `modified ${iso(seen.mtimeMs)}, listed as ${iso(listed.mtimeMs)}`;
  }
  return null;
}

/** Whether an answer names its version (ETag or mtime), not just a size: then no second listing is needed for it. */
export function vouches(seen: OpenedMeta | undefined): boolean {
  return seen !== undefined && (seen.etag !== undefined || seen.mtimeMs !== undefined);
}

/**
 * The answer to a read must be the version the plan listed (invariant 1): a
 * file replaced since the listing fails the cycle with ModelChangedError, which
 * is not retried per file (a retry would read the new bytes into the old plan).
 */
export function checkRead(
  source: Pick<Source, 'features'>,
  listed: Listed & { readonly path: string; readonly remote: string },
  input: Readable,
  onConfirmed?: (path: string) => void,
): void {
  const seen = openedMeta(input);
  if (!seen) return;
  try {
    checkMeta(source, listed, seen, onConfirmed);
  } catch (err) {
    input.destroy();
    throw err;
  }
}

/** The same check on what an answer said (the wire path's onMeta, before its bytes are written). */
export function checkMeta(
  source: Pick<Source, 'features'>,
  listed: Listed & { readonly path: string; readonly remote: string },
  seen: OpenedMeta,
  onConfirmed?: (path: string) => void,
): void {
  const diff = versionDiff(listed, seen, source.features.mtimeResolutionMs);
  if (diff) throw new ModelChangedError(`${listed.remote} changed while the model was pulled: ${diff}`);
  if (vouches(seen)) onConfirmed?.(listed.path);
}
