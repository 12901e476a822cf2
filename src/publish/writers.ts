import type { SourceFactory } from '../sources/types.js';
import { fileWriter } from './file.js';
import { ftpWriter } from './ftp.js';
import { s3Writer } from './s3.js';
import type { WriterFactory } from './types.js';
import { webhdfsWriter } from './webhdfs.js';

/** The registry: one line per writable store, keyed by its source's kind. HTTP and the Hadoop CLI have none. */
export const writers: readonly WriterFactory<never>[] = [ftpWriter, s3Writer, webhdfsWriter, fileWriter] as unknown as readonly WriterFactory<never>[];

export function writerFor(source: Pick<SourceFactory<never>, 'kind'>): WriterFactory<object> | undefined {
  return writers.find((w) => w.kind === source.kind) as WriterFactory<object> | undefined;
}
