/**
 * An S3 GET on the wire engine's socket: the SDK builds and signs the request
 * (credentials chain, region, path style, --s3-unsigned, the no-cache and
 * content-key middleware: everything open() would send), a middleware at the
 * innermost step takes the signed request and stops it there, before any
 * byte is sent; the worker then sends exactly that request. No pre-signer
 * dependency, and the request is the one the stock path signs (header
 * auth, not a query-string signature a cache would key on).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Sdk } from './s3-client.js';
import { addContentKey } from './s3-requests.js';

/** The HttpRequest the deserialize step sees (typed `unknown` by the SDK). */
interface SignedRequest {
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly path: string;
  readonly query?: Record<string, string | string[] | null>;
  readonly headers: Record<string, string>;
}

/** Thrown by the capturing middleware: carries the signed request out of client.send(). */
class Captured extends Error {
  constructor(readonly request: SignedRequest) {
    super('signed request captured');
  }
}

export interface SignedGet {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
}

/** The signed GetObject request for `Key` (with `Range`), as a URL and headers; nothing is sent. */
export async function signedGet(
  sdk: Sdk,
  client: S3Client,
  input: { Bucket: string; Key: string; Range?: string },
  contentKey: string | undefined,
  signal: AbortSignal,
): Promise<SignedGet> {
  const get = new sdk.GetObjectCommand(input);
  if (contentKey !== undefined) addContentKey(get, contentKey);
  get.middlewareStack.add(
    () => (args) => {
      throw new Captured(args.request as SignedRequest);
    },
    { step: 'deserialize', priority: 'high', name: 'modelMonitorCaptureSigned' },
  );
  try {
    await client.send(get, { abortSignal: signal });
  } catch (err) {
    if (err instanceof Captured) return asUrl(err.request);
    throw err;
  }
  throw new Error('the S3 client sent a request the capture should have stopped');
}

function asUrl(r: SignedRequest): SignedGet {
  const q = r.query ? queryString(r.query) : '';
  const url = new URL(`${r.protocol}//${r.hostname}${r.port ? `:${r.port}` : ''}${r.path}${q ? `?${q}` : ''}`);
  return { url, headers: r.headers };
}

/** The SDK's own encoding (smithy buildQueryString): sorted keys, RFC 3986 escapes: the query the signature covers. */
function queryString(query: Record<string, string | string[] | null>): string {
  const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const v = query[key];
    if (Array.isArray(v)) for (const x of v) parts.push(`${esc(key)}=${esc(x)}`);
    else parts.push(v || typeof v === 'string' ? `${esc(key)}=${esc(v)}` : esc(key));
  }
  return parts.join('&');
}

/** ` (NoSuchKey)`: the code of an S3 error body, for the message; '' when there is none. */
export function s3Code(body: string): string {
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
  return code ? ` (${code})` : '';
}
