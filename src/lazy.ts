/**
 * Libraries that cost a noticeable share of start-up (undici ~0.16 s and ~20 MiB,
 * basic-ftp ~0.05 s, yaml ~0.05 s, the proxy agents ~0.07 s) are loaded on first use, so a `file://` or FTP
 * run never pays for undici, and a run without --config never loads yaml. They
 * are CommonJS, so a synchronous require() serves constructors that cannot await.
 */
import { createRequire } from 'node:module';
import type * as BasicFtp from 'basic-ftp';
import type * as HttpProxyAgent from 'http-proxy-agent';
import type * as HttpsProxyAgent from 'https-proxy-agent';
import type * as ProxyFromEnv from 'proxy-from-env';
import type * as Undici from 'undici';
import type * as Yaml from 'yaml';

const require = createRequire(import.meta.url);

function once<T>(id: string): () => T {
  let m: T | undefined;
  return () => (m ??= require(id) as T);
}

export const undici = once<typeof Undici>('undici');
export const basicFtp = once<typeof BasicFtp>('basic-ftp');
export const yaml = once<typeof Yaml>('yaml');
export const httpProxyAgent = once<typeof HttpProxyAgent>('http-proxy-agent');
export const httpsProxyAgent = once<typeof HttpsProxyAgent>('https-proxy-agent');
export const proxyFromEnv = once<typeof ProxyFromEnv>('proxy-from-env');
