import { describe, expect, it } from 'vitest';
import { MonitorError, NotFoundError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { mapS3Error, s3 } from '../../../src/sources/s3.js';
import { configError } from '../../helpers/checks.js';
import { parseWith } from '../../helpers/source.js';
import type { OptionSpec } from '../../../src/options.js';

const parse = (url: string, raw: Record<string, string | undefined> = {}) => parseWith(s3, url, raw);
const specs: readonly OptionSpec[] = s3.options;

describe('s3 factory: declared options', () => {
  it('declares its flags once, none of them a key or secret', () => {
    expect(specs.map((o) => [o.name, o.kind])).toEqual([
      ['s3-endpoint', 'string'],
      ['s3-region', 'string'],
      ['s3-force-path-style', 'bool'],
      ['s3-unsigned', 'bool'],
      ['proxy', 'string'],
    ]);
    expect(specs.every((o) => o.secret !== true && o.help.length > 10)).toBe(true);
    expect([s3.kind, s3.schemes, s3.paddle.types]).toEqual(['s3', ['s3'], ['s3']]);
  });
});

describe('s3.parse', () => {
  it('bucket and prefix; slashes and %-escapes normalised', () => {
    expect(parse('s3://models/ranking/v2/')).toEqual({
      bucket: 'models',
      prefix: 'ranking/v2',
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
      unsigned: false,
      proxy: undefined,
    });
    expect(parse('s3://models').prefix).toBe('');
    expect(parse('s3://models//a//b%20c/').prefix).toBe('a/b c');
  });

  it('endpoint, region and path style', () => {
    expect(parse('s3://models/p', { 's3-endpoint': 'http://minio:9000/', 's3-region': 'eu-west-3', 's3-force-path-style': 'true' })).toMatchObject({
      endpoint: 'http://minio:9000',
      region: 'eu-west-3',
      forcePathStyle: true,
    });
    for (const [v, want] of [
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['', false],
    ] as const) {
      expect(parse('s3://models/p', { 's3-force-path-style': v }).forcePathStyle).toBe(want);
    }
  });

  it.each([
    ['s3://AKIA:secret@models/p', 'remote', /credentials/],
    ['s3://models:9000/p', 'remote', /port/],
    ['s3://models/p?versionId=1', 'remote', /query/],
    ['s3://x/p', 'remote', /bucket name/],
  ])('%s is refused naming --%s', (url, flag, msg) => {
    const e = configError(() => parse(url));
    expect(e.flag).toBe(flag);
    expect(e.message).toMatch(msg);
    expect(e.message).not.toContain('secret');
  });

  it.each([
    ['s3-endpoint', 'minio:9000'],
    ['s3-endpoint', 'ftp://minio'],
    ['s3-endpoint', 'http://user:pw@minio'],
    ['s3-region', 'EU West'],
    ['s3-force-path-style', 'maybe'],
  ])('--%s %j is refused naming the flag', (flag, value) => {
    expect(configError(() => parse('s3://models/p', { [flag]: value })).flag).toBe(flag);
  });

  it('create does no I/O and keeps the URL safe to log', async () => {
    const src = s3.create(parse('s3://models/ranking', { 's3-endpoint': 'http://127.0.0.1:1' }), {
      log: silentLogger(),
      timeoutMs: 1000,
      concurrency: 2,
    });
    expect(src.displayUrl).toBe('s3://models/ranking');
    expect(src.features).toEqual({ md5: true, etag: true, ranges: true, mtimeResolutionMs: 1000, partsByDefault: true });
    await src.close();
  });
});

/** Errors shaped as the SDK throws them: `name` + `$metadata.httpStatusCode`. */
const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`message text is never read: ${name}`), {
    name,
    $metadata: status === undefined ? undefined : { httpStatusCode: status },
    ...extra,
  });

describe('mapS3Error', () => {
  const live = new AbortController().signal;
  const map = (e: unknown, signal = live) => mapS3Error(e, 'list root/', 'models', signal);

  it.each([
    ['InvalidAccessKeyId', 403, 'E_AUTH'],
    ['SignatureDoesNotMatch', 403, 'E_AUTH'],
    ['AccessDenied', 403, 'E_AUTH'],
    ['ExpiredToken', 400, 'E_AUTH'],
    ['Forbidden', 403, 'E_AUTH'], // a HEAD answer: no body, name from the status
    ['CredentialsProviderError', undefined, 'E_AUTH'],
    ['NoSuchBucket', 404, 'E_REMOTE'],
    ['NoSuchKey', 404, 'E_NOT_FOUND'],
    ['NotFound', 404, 'E_NOT_FOUND'],
    ['PermanentRedirect', 301, 'E_REMOTE'],
    ['SlowDown', 503, 'E_TRANSIENT'],
    ['InternalError', 500, 'E_TRANSIENT'],
    ['RequestTimeout', 400, 'E_TRANSIENT'],
    ['TooManyRequests', 429, 'E_TRANSIENT'],
    ['InvalidRange', 416, 'E_REMOTE'],
  ])('%s (HTTP %s) → %s', (name, status, code) => {
    const e = map(sdkError(name, status));
    expect(e.code).toBe(code);
    expect(e.cause).toBeInstanceOf(Error);
    if (code === 'E_AUTH' || code === 'E_REMOTE') expect(e.message).toContain('models');
  });

  it('network errors are transient; programming errors are not', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT']) {
      expect(map(Object.assign(new Error('x'), { code })).code).toBe('E_TRANSIENT');
    }
    expect(map(new TypeError('undefined is not a function')).retryable).toBe(false);
  });

  it('an aborted signal wins: timeout → transient, cancel → aborted; MonitorErrors pass through', () => {
    expect(map(sdkError('AbortError'), AbortSignal.abort(new DOMException('t', 'TimeoutError'))).code).toBe('E_TRANSIENT');
    expect(map(sdkError('AbortError'), AbortSignal.abort()).code).toBe('E_ABORTED');
    const nf = new NotFoundError('x');
    expect(map(nf)).toBe(nf);
    expect(map(nf)).toBeInstanceOf(MonitorError);
  });
});
