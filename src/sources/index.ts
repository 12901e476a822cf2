import { file } from './file.js';
import { ftp } from './ftp.js';
import { hadoopCli } from './hadoop-cli.js';
import { webhdfs } from './webhdfs.js';
import type { SourceFactory } from './types.js';

/** The registry: one line per backend. Order matters only for --help. */
export const sources: readonly SourceFactory<never>[] = [ftp, webhdfs, hadoopCli, file] as unknown as readonly SourceFactory<never>[];
