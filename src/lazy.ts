/**
 * Libraries that cost a noticeable share of start-up (basic-ftp ~0.05 s, yaml
 * ~0.05 s) are loaded on first use: an HTTP run never loads basic-ftp, a run
 * without --config never loads yaml. They are CommonJS (proxy-from-env has a
 * CommonJS build), so a synchronous require() serves code that cannot await.
 * The AWS SDK, execa and the proxy agents are ES modules: import() where used.
 */
import { createRequire } from 'node:module';
import type * as BasicFtp from 'basic-ftp';
import type * as ProxyFromEnv from 'proxy-from-env';
import type * as Yaml from 'yaml';

const require = createRequire(import.meta.url);

function once<T>(id: string): () => T {
  let m: T | undefined;
  return () => (m ??= require(id) as T);
}

export const basicFtp = once<typeof BasicFtp>('basic-ftp');
export const yaml = once<typeof Yaml>('yaml');
export const proxyFromEnv = once<typeof ProxyFromEnv>('proxy-from-env');
