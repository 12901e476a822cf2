import { backend, type Backend } from './backend.js';
import { file } from './file.js';
import { ftp } from './ftp.js';
import { hadoopCli } from './hadoop-cli.js';
import { http } from './http.js';
import { s3 } from './s3.js';
import { webhdfs } from './webhdfs.js';

/** The registry: one line per backend. Order matters only for --help and the list of --type names. */
export const sources: readonly Backend[] = [backend(ftp), backend(s3), backend(webhdfs), backend(http), backend(hadoopCli), backend(file)];
