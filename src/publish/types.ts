/**
 * What publish needs from a store beyond reading it (reads go through the
 * store's Source: stat, list, open): writing a new object, moving one over
 * another, deleting. One writer per store, beside its source, after the Source
 * shape: a small core, capabilities as data.
 */
import type { Readable } from 'node:stream';
import type { IoOptions, SourceDeps } from '../sources/types.js';

export interface WriterFeatures {
  /**
   * rename(from, to) replaces an existing `to` in one step, so a reader sees the
   * old file or the new one, never neither (rename(2), FTP RNFR/RNTO, WebHDFS
   * RENAME with renameoptions=OVERWRITE). False on S3, which has no rename.
   */
  readonly atomicReplace: boolean;
  /** A put() is seen whole or not at all, even while it runs (S3 PUT, multipart complete). */
  readonly atomicPut: boolean;
}

export interface PutOptions extends IoOptions {
  /** Exactly this many bytes will come from the body. */
  readonly size: number;
}

export interface Writer {
  readonly kind: string;
  /** The remote root, credentials stripped: safe to log. */
  readonly displayUrl: string;
  readonly features: WriterFeatures;
  /**
   * Writes the body at `path` (relative to the root), creating parent
   * directories. Only fresh names are put: an existing file there is an error
   * or replaced, never read from. A failed put may leave a partial file behind
   * (the caller's garbage collection removes it).
   */
  put(path: string, body: Readable, o: PutOptions): Promise<void>;
  /** Moves `from` onto `to`, replacing `to` (in one step where features.atomicReplace). */
  rename(from: string, to: string, o: IoOptions): Promise<void>;
  /** Deletes a file; one that is not there is fine. */
  delete(path: string, o: IoOptions): Promise<void>;
  /** Removes a directory if it is empty (best effort; a no-op where the store has no directories). */
  removeDir(path: string, o: IoOptions): Promise<void>;
  close(): Promise<void>;
}

export interface WriterDeps extends SourceDeps {
  /** Retries of one idempotent part of an upload (an S3 part), from --retries. */
  readonly retries: number;
}

/** Creates the writer for a source kind, from the options that source's factory parsed (bound in writers.ts). */
export interface WriterFactory<O extends object = object> {
  /** The SourceFactory.kind it writes for. */
  readonly kind: string;
  create(opts: O, deps: WriterDeps): Writer;
}
