/**
 * The stores publish can write, one line each: a source's declaration bound
 * to its writer, so the writer is made from the very options the source
 * parses from the flags (no casts, and a store without a writer is known
 * before any I/O). HTTP and the Hadoop CLI have none.
 */
import { readOptions } from '../option-values.js';
import type { OptionSpec, RawOptions } from '../options.js';
import type { RemoteChoice } from '../remote.js';
import { file } from '../sources/file.js';
import { ftp } from '../sources/ftp.js';
import { s3 } from '../sources/s3.js';
import type { SourceFactory } from '../sources/types.js';
import { webhdfs } from '../sources/webhdfs.js';
import { fileWriter } from './file.js';
import { ftpWriter } from './ftp.js';
import { s3Writer } from './s3.js';
import type { Writer, WriterDeps, WriterFactory } from './types.js';
import { webhdfsWriter } from './webhdfs.js';

export interface WritableStore {
  /** The source kind it writes. */
  readonly kind: string;
  /** Reads the remote's options from `raw` as its source does (ConfigError; no I/O); the writer is made on call. */
  bind(remote: Pick<RemoteChoice, 'remoteUrl' | 'remoteText'>, raw: RawOptions): (deps: WriterDeps) => Writer;
}

function writable<O extends object, const T extends readonly OptionSpec[]>(f: SourceFactory<O, T>, w: WriterFactory<O>): WritableStore {
  return {
    kind: f.kind,
    bind(remote, raw) {
      const opts = f.parse(remote.remoteUrl, readOptions(f.options, raw), remote.remoteText);
      // The writer's lines name it once: `component: writer, source: <kind>` (as backend.ts does for sources).
      return (deps) => w.create(opts, { ...deps, log: deps.log.child({ component: 'writer', source: f.kind }) });
    },
  };
}

/** One line per writable store; the order is the one error messages list them in. */
export const writers: readonly WritableStore[] = [
  writable(file, fileWriter),
  writable(ftp, ftpWriter),
  writable(s3, s3Writer),
  writable(webhdfs, webhdfsWriter),
];

export function writerFor(kind: string): WritableStore | undefined {
  return writers.find((w) => w.kind === kind);
}
