/** S3 and S3-compatible stores (MinIO, Ceph RGW, s3rver) through the AWS SDK (client: s3-client.ts). */
import { Readable } from 'node:stream';
import type { HeadObjectCommandOutput, _Object } from '@aws-sdk/client-s3';
import { ConfigError, NotFoundError, RemoteError } from '../errors.js';
import { ContentKeys } from './content-key.js';
import { parseProxy, proxyOption, resolveProxy, type ProxySetting } from './proxy.js';
import { mapS3Error } from './s3-errors.js';
import { endpointOf, s3Client, type S3Handle } from './s3-client.js';
import { addContentKey } from './s3-requests.js';
import type { Logger } from '../log.js';
import { decodeUrlPart, type Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import { joinRemote, safeRelative } from '../paths.js';
import { withDeadline } from '../deadline.js';
import { guardedBody, statusError } from './http-body.js';
import { httpMeta } from './http-wire.js';
import { s3Code, signedGet } from './s3-wire.js';
import {
  withMeta,
  type DownloadOptions,
  type DownloadResult,
  type DownloadTarget,
  type IoOptions,
  type OpenOptions,
  type RemoteEntry,
  type Source,
  type SourceDeps,
  type SourceFactory,
} from './types.js';
import { rangeOf, wireGet } from './wire-get.js';

export interface S3Options {
  readonly bucket: string;
  /** Key prefix of the remote root, no leading or trailing `/` ('' = the bucket root). */
  readonly prefix: string;
  /** --s3-endpoint: an S3-compatible server (MinIO, Ceph, s3rver); absent = AWS. */
  readonly endpoint?: string;
  /** --s3-region; absent = the AWS chain (AWS_REGION, profile), else us-east-1. */
  readonly region?: string;
  readonly forcePathStyle: boolean;
  /** --s3-unsigned: anonymous requests (a public-read bucket, or one whose policy admits the cache tier). */
  readonly unsigned: boolean;
  /** --proxy (absent: the environment's). */
  readonly proxy: ProxySetting;
}

export { mapS3Error };

const options = [
  {
    name: 's3-endpoint',
    kind: 'string',
    metavar: 'URL',
    group: 'S3',
    help: 'S3-compatible endpoint (MinIO, Ceph RGW…), e.g. http://minio:9000; default: AWS',
  },
  {
    name: 's3-region',
    kind: 'string',
    metavar: 'REGION',
    group: 'S3',
    check: regionName,
    help: 'bucket region; default: AWS_REGION or the AWS profile, else us-east-1',
  },
  {
    name: 's3-force-path-style',
    kind: 'bool',
    default: false,
    group: 'S3',
    help: 'address buckets as ENDPOINT/bucket, not bucket.ENDPOINT (most S3-compatible servers want this)',
  },
  {
    name: 's3-unsigned',
    kind: 'bool',
    default: false,
    group: 'S3',
    help: 'send requests unsigned (anonymous): a public-read bucket, or one whose policy admits the cache tier; a shared cache stores no answer to a signed request',
  },
  proxyOption,
] as const satisfies readonly OptionSpec[];

/** `s3://bucket/prefix`; credentials come from the standard AWS chain (env, shared files, profile, IMDS). */
export const s3 = {
  kind: 's3',
  schemes: ['s3'],
  options,
  paddle: { types: ['s3'], url: (_type, path) => ({ url: `s3:/${path}`, flag: 'remote-path' }) },
  parse(remote: URL, v: Values<typeof options>): S3Options {
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
    const prefix = joinRemote(decodeUrlPart('remote', remote.pathname)).replace(/^\//, '');
    return {
      bucket,
      prefix,
      ...(v.s3Endpoint !== null ? { endpoint: parseEndpoint(v.s3Endpoint) } : {}),
      ...(v.s3Region !== null ? { region: v.s3Region } : {}),
      forcePathStyle: v.s3ForcePathStyle,
      unsigned: v.s3Unsigned,
      proxy: parseProxy(v.proxy),
    };
  },
  proxy: (opts: S3Options) => resolveProxy(opts.proxy, endpointOf(opts)),
  create(opts: S3Options, deps: SourceDeps): Source {
    return new S3Source(opts, deps);
  },
} satisfies SourceFactory<S3Options, typeof options>;

function parseEndpoint(v: string): string {
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

function regionName(v: string): string | null {
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(v) ? null : `not a region name: ${JSON.stringify(v)}`;
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
  return entryOf(path, h.ContentLength ?? 0, h.LastModified?.getTime(), etag, md5);
}

function listEntry(o: _Object, prefix: string, log: Logger): RemoteEntry | null {
  if (!o.Key || !o.Key.startsWith(prefix)) return null;
  if (o.Key.endsWith('/')) {
    // a "directory marker" (console "create folder", s3fs); a non-empty one cannot be a local file either
    if ((o.Size ?? 0) > 0) log.warn({ event: 'skip-key' }, 'skipping a non-empty S3 key ending in /');
    return null;
  }
  const etag = unquote(o.ETag);
  return entryOf(safeRelative(o.Key.slice(prefix.length)), o.Size ?? 0, o.LastModified?.getTime(), etag, md5FromEtag(etag));
}

function entryOf(path: string, size: number, mtimeMs: number | undefined, etag: string | undefined, md5: string | undefined): RemoteEntry {
  return { path, size, ...(mtimeMs !== undefined ? { mtimeMs } : {}), ...(etag !== undefined ? { etag } : {}), ...(md5 !== undefined ? { md5 } : {}) };
}

class S3Source implements Source {
  readonly kind = 's3';
  // S3 throttles each stream: big files as ranged parts even without --part-size (issue 18).
  readonly features = { md5: true, etag: true, ranges: true, mtimeResolutionMs: 1000, partsByDefault: true } as const;
  readonly displayUrl: string;
  private readonly client: S3Handle;
  private readonly log: Logger;
  /** Version keys for object GETs through a cache tier (content-key.ts). */
  private readonly keys: ContentKeys;

  constructor(
    private readonly opts: S3Options,
    private readonly deps: SourceDeps,
  ) {
    this.displayUrl = `s3://${opts.bucket}/${opts.prefix}`;
    this.log = deps.log;
    this.keys = new ContentKeys(s3.proxy(opts) !== null);
    this.client = s3Client(opts, deps, this.log);
  }

  private ready() {
    return this.client.ready();
  }

  private key(p: string): string {
    return joinRemote(this.opts.prefix, p).replace(/^\//, '');
  }

  /** One SDK call under the cycle signal plus the per-request deadline; errors mapped. */
  private async call<T>(what: string, outer: AbortSignal, op: (s: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(outer, this.deps.timeoutMs, what, async (signal) => {
      try {
        return await op(signal);
      } catch (err) {
        throw mapS3Error(err, what, this.opts.bucket, signal);
      }
    });
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const Bucket = this.opts.bucket;
    const Key = this.key(p);
    if (Key !== '') {
      try {
        const { sdk, client } = await this.ready();
        const h = await this.call(`stat ${Key}`, o.signal, (s) => client.send(new sdk.HeadObjectCommand({ Bucket, Key }), { abortSignal: s }));
        const e = headEntry(p, h);
        this.keys.note(p, e);
        return e;
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
    this.keys.reset();
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
        if (!e) continue;
        this.keys.note(joinRemote(dir, e.path), e);
        yield e;
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
    const key = this.keys.get(p);
    if (key !== undefined) addContentKey(get, key);
    // Until the headers: our own deadline (the SDK's requestTimeout is an inactivity timeout, which a
    // trickle defeats). Cleared once they are in: the body is bounded by the sink's stall and rate checks.
    const res = await withDeadline(o.signal, this.deps.timeoutMs, what, (s) =>
      client.send(get, { abortSignal: s }).catch((err: unknown) => {
        throw mapS3Error(err, what, this.opts.bucket, s);
      }),
    );
    if (!(res.Body instanceof Readable)) throw new RemoteError(`${what}: the S3 client returned no Node stream`);
    const total = Range ? Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1]) : res.ContentLength;
    const etag = unquote(res.ETag);
    return withMeta(guardedBody(res.Body, { signal: o.signal, expected: res.ContentLength, mapError, what }), {
      ...(total !== undefined && Number.isSafeInteger(total) ? { size: total } : {}),
      ...(res.LastModified ? { mtimeMs: res.LastModified.getTime() } : {}),
      ...(etag !== undefined ? { etag } : {}),
    });
  }

  /**
   * The wire path (src/wire/): the SDK signs the GET, our worker sends it and
   * writes the body; plain http endpoints without a proxy only (else null: open()).
   */
  async download(p: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null> {
    const wire = this.deps.wire;
    if (!wire || s3.proxy(this.opts) !== null || !endpointOf(this.opts).startsWith('http:')) return null;
    const Key = this.key(p);
    const what = `get ${Key}`;
    const Range = rangeOf(t) ?? undefined;
    const { sdk, client } = await this.ready();
    const signed = await withDeadline(o.signal, this.deps.timeoutMs, what, (s) =>
      signedGet(sdk, client, { Bucket: this.opts.bucket, Key, ...(Range ? { Range } : {}) }, this.keys.get(p), s).catch((err: unknown) => {
        throw mapS3Error(err, what, this.opts.bucket, s);
      }),
    );
    return wireGet(wire, { ...signed, what, meta: httpMeta, refuse: (status, body) => statusError(status, `${what}${s3Code(body)}`) }, t, o);
  }

  /** The GET the SDK sends: path-style or virtual-host, key segments encoded, query sorted (x-id last). */
  requestUrl(p: string): string {
    const ep = new URL(this.opts.endpoint ?? endpointOf(this.opts));
    const key = this.key(p)
      .split('/')
      .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
      .join('/');
    const base = this.opts.forcePathStyle
      ? `${ep.origin}/${this.opts.bucket}/${key}`
      : `${ep.protocol}//${this.opts.endpoint ? `${this.opts.bucket}.${ep.host}` : ep.host}/${key}`;
    const k = this.keys.known(p);
    return `${base}?${k !== undefined ? `mmkey=${encodeURIComponent(k)}&` : ''}x-id=GetObject`;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
