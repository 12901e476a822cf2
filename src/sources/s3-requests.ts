/**
 * What the S3 source adds to the SDK's requests for a shared cache tier, as
 * SDK middleware (no mock, no handler of our own): `Cache-Control: no-cache`
 * on every request, a version key on object GETs through a proxy
 * (content-key.ts), and --s3-unsigned (anonymous requests: a shared cache
 * stores no answer to a request with an Authorization header, RFC 9111 §3.5,
 * and SigV4 signs every request differently).
 */
import type { GetObjectCommand, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { CONTENT_KEY_PARAM } from './content-key.js';

/** The HttpRequest the build step sees (typed `unknown` by the SDK). */
interface BuiltRequest {
  headers?: Record<string, string>;
  query?: Record<string, string | string[] | null>;
}

/** Every request of `client` says `Cache-Control: no-cache` (added before signing, so it is signed too). */
export function addNoCache(client: S3Client): void {
  client.middlewareStack.add(
    (next) => (args) => {
      const req = args.request as BuiltRequest;
      if (req.headers) req.headers['cache-control'] = 'no-cache';
      return next(args);
    },
    { step: 'build', name: 'modelMonitorNoCache' },
  );
}

/** This GET's URL carries `mmkey=<key>`: one URL per object version, the same on every replica. */
export function addContentKey(command: GetObjectCommand, key: string): void {
  command.middlewareStack.add(
    (next) => (args) => {
      const req = args.request as BuiltRequest;
      if (req.query) req.query[CONTENT_KEY_PARAM] = key;
      return next(args);
    },
    { step: 'build', name: 'modelMonitorContentKey' },
  );
}

/**
 * Client settings for anonymous requests (--s3-unsigned): a signer that leaves
 * the request as it is, and fixed credentials so that the SDK never walks the
 * credential chain (env, files, IMDS) for keys it would not use.
 */
export function unsignedConfig(): Pick<S3ClientConfig, 'signer' | 'credentials'> {
  return {
    signer: { sign: (request) => Promise.resolve(request) },
    credentials: { accessKeyId: 'anonymous', secretAccessKey: 'anonymous' },
  };
}
