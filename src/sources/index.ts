import { file } from './file.js';
import { ftp } from './ftp.js';
import { hadoopCli } from './hadoop-cli.js';
import { http } from './http.js';
import { s3 } from './s3.js';
import { webhdfs } from './webhdfs.js';
import type { SourceFactory } from './types.js';

/** The registry: one line per backend. Order matters only for --help. */
export const sources: readonly SourceFactory<never>[] = [ftp, s3, webhdfs, http, hadoopCli, file] as unknown as readonly SourceFactory<never>[];
