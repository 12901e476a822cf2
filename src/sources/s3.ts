import { Readable } from 'node:stream';
import type { HeadObjectCommandOutput, S3Client, S3ClientConfig, _Object } from '@aws-sdk/client-s3';

/** The AWS SDK is loaded on first use: its import costs ~0.7 s, which no other source should pay. */
type Sdk = typeof import('@aws-sdk/client-s3');
const loadSdk = (): Promise<Sdk> => import('@aws-sdk/client-s3');
import {
  abortReason, AuthError, ConfigError, isTransientNetworkError,
  MonitorError, NotFoundError, RemoteError, TransientError,
} from '../errors.js';
import { redactUrl } from '../options.js';
import { agentsFor } from './proxy.js';
import type { Logger } from '../log.js';
import type { OptionSpec, RawOptions } from '../options.js';
import { joinRemote, safeRelative } from '../paths.js';
import { opSignal } from '../retry.js';
import { guardedBody } from './http.js';
import type { IoOptions, OpenOptions, RemoteEntry, Source, SourceDeps, SourceFactory } from './types.js';

export interface S3Options {
  readonly bucket: string;
  /** Key prefix of the remote root, no leading or trailing `/` ('' = the bucket root). */
  readonly prefix: string;
  /** --s3-endpoint: an S3-compatible server (MinIO, Ceph, s3rver); absent = AWS. */
  readonly endpoint?: string;
  /** --s3-region; absent = the AWS chain (AWS_REGION, profile), else us-east-1. */
  readonly region?: string;
  readonly forcePathStyle: boolean;
}

const options: readonly OptionSpec[] = [
  {
    name: 's3-endpoint', kind: 'string', metavar: 'URL', group: 'S3',
    help: 'S3-compatible endpoint (MinIO, Ceph RGW…), e.g. http://minio:9000; default: AWS',
  },
  {
    name: 's3-region', kind: 'string', metavar: 'REGION', group: 'S3',
    help: 'bucket region; default: AWS_REGION or the AWS profile, else us-east-1',
  },
  {
    name: 's3-force-path-style', kind: 'bool', default: false, group: 'S3',
    help: 'address buckets as ENDPOINT/bucket, not bucket.ENDPOINT (most S3-compatible servers want this)',
  },
];

/** `s3://bucket/prefix`; credentials come from the standard AWS chain (env, shared files, profile, IMDS). */
export const s3 = {
  kind: 's3',
  schemes: ['s3'],
  types: ['s3'],
  options,
  parse(remote: URL, raw: RawOptions): S3Options {
    if (remote.username || remote.password) {
      throw new ConfigError('remote', 's3:// URLs take no credentials; use AWS_ACCESS_KEY_ID/AWS_PROFILE or ~/.aws');
    }
    if (remote.port || remote.search || remote.hash) {
      throw new ConfigError('remote', 's3:// URLs are s3://bucket/prefix (no port, query or fragment)');
    }
    const bucket = remote.hostname;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,254}$/.test(bucket)) {
      throw new ConfigError('remote', `not a valid S3 bucket name: ${JSON.stringify(bucket)}`);
    }
    const prefix = joinRemote(decodeURIComponent(remote.pathname)).replace(/^\//, '');
    return {
      bucket,
      prefix,
      endpoint: parseEndpoint(raw['s3-endpoint']),
      region: parseRegion(raw['s3-region']),
      forcePathStyle: parseBool('s3-force-path-style', raw['s3-force-path-style']),
    };
  },
  create(opts: S3Options, deps: SourceDeps): Source {
    return new S3Source(opts, deps);
  },
} satisfies SourceFactory<S3Options>;

function parseEndpoint(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch (err) {
    throw new ConfigError('s3-endpoint', `not a URL: ${JSON.stringify(v)}`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError('s3-endpoint', `must be an http:// or https:// URL, got ${u.protocol}`);
  }
  if (u.username || u.password) throw new ConfigError('s3-endpoint', 'must not hold credentials');
  return u.toString().replace(/\/$/, '');
}

function parseRegion(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^[a-z0-9][a-z0-9-]{0,62}$/.test(v)) return v;
  throw new ConfigError('s3-region', `not a region name: ${JSON.stringify(v)}`);
}

/** Bool options arrive as raw strings; accepts the usual spellings. */
function parseBool(flag: string, v: string | boolean | undefined): boolean {
  if (v === undefined || v === '' || v === false) return false;
  if (v === true) return true;
  const s = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new ConfigError(flag, `expected true or false, got ${JSON.stringify(v)}`);
}

/** The SDK's region chain (env, profile), falling back to us-east-1 as the AWS CLI does for S3. */
function regionFromChain(): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () =>
    (cached ??= (async () => {
      const probe = new (await loadSdk()).S3Client({});
      try {
        return await probe.config.region();
      } catch {
        return 'us-east-1';
      } finally {
        probe.destroy();
      }
    })());
}

// error `name`s (the S3 XML Code); HEAD answers have no body, so there the status decides
const AUTH_NAMES = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken',
  'TokenRefreshRequired', 'AllAccessDisabled', 'CredentialsProviderError',
]);
// RequestTimeTooSkewed (403): the SDK corrects its clock offset from the answer, so a retry heals it
const TRANSIENT_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'TimeoutError',
  'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable',
]);

interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** SDK error → the shared set, by `name` and `$metadata.httpStatusCode`, never by message. */
export function mapS3Error(err: unknown, what: string, bucket: string, signal: AbortSignal): MonitorError {
  if (err instanceof MonitorError) return err;
  if (signal.aborted) return abortReason(signal);
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const label = name && name !== 'Error' ? name : (e.code ?? (status ? `HTTP ${status}` : 'network error'));
  const transient =
    TRANSIENT_NAMES.has(name) ||
    (status !== undefined && (status >= 500 || status === 429)) ||
    isTransientNetworkError(err) ||
    (status === undefined && e.code === 'ENOTFOUND');
  if (transient) return new TransientError(`${what}: S3 bucket ${bucket} unavailable (${label})`, { cause: err });
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    const msg = `${what}: access to bucket ${bucket} refused (${label}); check AWS credentials and policy`;
    return new AuthError(msg, { cause: err });
  }
  if (name === 'NoSuchBucket') return new RemoteError(`no such bucket: ${bucket}`, { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound') {
    return new NotFoundError(`${what}: not found in bucket ${bucket}`, { cause: err });
  }
  if (name === 'PermanentRedirect' || status === 301) {
    return new RemoteError(`bucket ${bucket} is in another region: set --s3-region`, { cause: err });
  }
  return new RemoteError(`${what}: S3 refused (${label}) for bucket ${bucket}`, { cause: err });
}

/** Single-part, unencrypted (or SSE-S3) uploads have the content md5 as ETag; multipart ones have `-N`. */
function md5FromEtag(etag: string | undefined): string | undefined {
  return etag && /^[0-9a-f]{32}$/i.test(etag) ? etag.toLowerCase() : undefined;
}

const unquote = (etag: string | undefined) => etag?.replace(/^(W\/)?"|"$/g, '') || undefined;

function headEntry(path: string, h: HeadObjectCommandOutput): RemoteEntry {
  const etag = unquote(h.ETag);
  const kms = h.ServerSideEncryption === 'aws:kms' || h.ServerSideEncryption === 'aws:kms:dsse';
  const md5 = kms || h.SSECustomerAlgorithm ? undefined : md5FromEtag(etag);
  return { path, size: h.ContentLength ?? 0, mtimeMs: h.LastModified?.getTime(), etag, md5 };
}

function listEntry(o: _Object, prefix: string, log: Logger): RemoteEntry | null {
  if (!o.Key || !o.Key.startsWith(prefix)) return null;
  if (o.Key.endsWith('/')) {
    // a "directory marker" (console "create folder", s3fs); a non-empty one cannot be a local file either
    if ((o.Size ?? 0) > 0) log.warn({ event: 'skip-key' }, 'skipping a non-empty S3 key ending in /');
    return null;
  }
  const etag = unquote(o.ETag);
  return {
    path: safeRelative(o.Key.slice(prefix.length)),
    size: o.Size ?? 0,
    mtimeMs: o.LastModified?.getTime(),
    etag,
    md5: md5FromEtag(etag),
  };
}

export interface S3Handle {
  /** The SDK and the client, loaded on the first call. */
  ready(): Promise<{ sdk: Sdk; client: S3Client }>;
  /** Destroys the client if one was made. */
  close(): Promise<void>;
}

/** The SDK and a client for `opts`, shared by the source and the publish writer. */
export function s3Client(opts: S3Options, deps: SourceDeps, log: Logger): S3Handle {
  const t = deps.timeoutMs;
  const clientConfig: S3ClientConfig = {
    region: opts.region ?? regionFromChain(),
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle,
    maxAttempts: 1, // withRetry() retries, with backoff and logging
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // options object, not `new NodeHttpHandler()`: @smithy/node-http-handler is not our direct dependency
    requestHandler: {
      connectionTimeout: t,
      requestTimeout: t, // until the response headers
      throwOnRequestTimeout: true,
      socketTimeout: t, // idle socket, including mid-body stalls
    },
  };
  /** The client config with agents for the environment's proxy, if one applies to the endpoint. */
  const withAgents = async (): Promise<S3ClientConfig> => {
    const target = opts.endpoint ?? 'https://s3.amazonaws.com';
    const { httpAgent, httpsAgent, proxy } = await agentsFor(target, { keepAlive: true, maxSockets: Math.max(deps.concurrency * 2, 8) });
    if (proxy) log.info({ event: 'proxy', proxy: redactUrl(proxy) }, 'S3 requests go through the proxy from the environment');
    return { ...clientConfig, requestHandler: { ...(clientConfig.requestHandler as object), httpAgent, httpsAgent } };
  };
  let made: Promise<{ sdk: Sdk; client: S3Client }> | null = null;
  const ready = () => (made ??= Promise.all([loadSdk(), withAgents()]).then(([sdk, config]) => ({ sdk, client: new sdk.S3Client(config) })));
  return { ready, close: async () => void (made && (await made).client.destroy()) };
}

class S3Source implements Source {
  readonly kind = 's3';
  readonly features = { md5: true, etag: true, ranges: true, mtimeResolutionMs: 1000 } as const;
  readonly displayUrl: string;
  private readonly client: S3Handle;
  private readonly log: Logger;

  constructor(
    private readonly opts: S3Options,
    private readonly deps: SourceDeps,
  ) {
    this.displayUrl = `s3://${opts.bucket}/${opts.prefix}`;
    this.log = deps.log.child({ component: 'source', source: 's3' });
    this.client = s3Client(opts, deps, this.log);
  }

  private ready(): Promise<{ sdk: Sdk; client: S3Client }> {
    return this.client.ready();
  }

  private key(p: string): string {
    return joinRemote(this.opts.prefix, p).replace(/^\//, '');
  }

  /** One SDK call under the cycle signal plus the per-request deadline; errors mapped. */
  private async call<T>(what: string, outer: AbortSignal, op: (s: AbortSignal) => Promise<T>): Promise<T> {
    const signal = opSignal(outer, this.deps.timeoutMs);
    try {
      return await op(signal);
    } catch (err) {
      throw mapS3Error(err, what, this.opts.bucket, signal);
    }
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const Bucket = this.opts.bucket;
    const Key = this.key(p);
    if (Key !== '') {
      try {
        const { sdk, client } = await this.ready();
        const h = await this.call(`stat ${Key}`, o.signal, (s) =>
          client.send(new sdk.HeadObjectCommand({ Bucket, Key }), { abortSignal: s }),
        );
        return headEntry(p, h);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    // absent as a key: a "directory" when anything lives under key/ (and NoSuchBucket surfaces here:
    // a HEAD answer has no body, so a missing bucket looks like a missing key)
    const Prefix = Key === '' ? '' : `${Key}/`;
    const { sdk, client } = await this.ready();
    const page = await this.call(`stat ${Prefix}`, o.signal, (s) =>
      client.send(new sdk.ListObjectsV2Command({ Bucket, Prefix, MaxKeys: 1 }), { abortSignal: s }),
    );
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0 ? { path: p, size: 0, isDirectory: true } : null;
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const Bucket = this.opts.bucket;
    const base = this.key(dir);
    const Prefix = base === '' ? '' : `${base}/`;
    let token: string | undefined;
    let pages = 0;
    const { sdk, client } = await this.ready();
    do {
      const ContinuationToken = token;
      const page = await this.call(`list ${Prefix}`, o.signal, (s) =>
        client.send(new sdk.ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }), { abortSignal: s }),
      );
      if (pages++ === 0 && !page.Contents?.length && !page.IsTruncated) {
        throw new NotFoundError(`no such directory: ${this.displayUrl}/${dir}`);
      }
      for (const c of page.Contents ?? []) {
        const e = listEntry(c, Prefix, this.log);
        if (e) yield e;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) throw new RemoteError(`list ${Prefix}: truncated page without a token`);
    } while (token);
    this.log.debug({ event: 'listed', pages }, 'listed S3 prefix');
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    const Key = this.key(p);
    const start = o.start ?? 0;
    const Range = start > 0 || o.length !== undefined ? `bytes=${start}-${o.length !== undefined ? start + o.length - 1 : ''}` : undefined;
    const what = `get ${Key}`;
    // the deadline covers the answer's headers (requestTimeout) and idle stalls (socketTimeout),
    // not the whole body: a 10 GB file may take longer than --timeout and still be healthy
    const mapError = (err: unknown) => mapS3Error(err, what, this.opts.bucket, o.signal);
    const { sdk, client } = await this.ready();
    const get = new sdk.GetObjectCommand({ Bucket: this.opts.bucket, Key, Range });
    const res = await client.send(get, { abortSignal: o.signal }).catch((err: unknown) => {
      throw mapError(err);
    });
    if (!(res.Body instanceof Readable)) throw new RemoteError(`${what}: the S3 client returned no Node stream`);
    return guardedBody(res.Body, { signal: o.signal, expected: res.ContentLength, mapError, what });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
