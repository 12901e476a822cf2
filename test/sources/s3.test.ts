import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { s3 } from '../../src/sources/s3.js';
import type { RemoteEntry, Source, SourceDeps } from '../../src/sources/types.js';
import { runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { freePort } from '../servers/ports.js';
import { seedObjects, startS3ErrorServer, startS3rver, type S3ErrorServer, type S3rverHandle } from '../servers/s3rver.js';
import { sourceWith } from '../helpers/source.js';

// s3rver knows one key pair; the source finds it through the standard AWS chain (env)
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

const deps = { log: silentLogger(), timeoutMs: 15_000, concurrency: 4 };
const signal = () => AbortSignal.timeout(60_000);
const ROOT = 'root';

function source(bucket: string, endpoint: string, o: Partial<SourceDeps> = {}): Source {
  const raw = { 's3-endpoint': endpoint, 's3-force-path-style': 'true' };
  return sourceWith(s3, `s3://${bucket}/${ROOT}`, raw, { ...deps, ...o });
}

function directClient(srv: S3rverHandle): S3Client {
  return new S3Client({
    endpoint: srv.directEndpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** `size` bytes of 7s, streamed; and their md5. */
function largeBody(size: number): { body: Readable; md5: string } {
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const h = createHash('md5');
  for (let left = size; left > 0; left -= chunk.length) h.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
  const body = Readable.from(
    (function* () {
      for (let left = size; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
    })(),
  );
  return { body, md5: h.digest('hex') };
}

async function harness(): Promise<SourceHarness> {
  const srv = await startS3rver('models');
  const client = directClient(srv);
  const deadPort = await freePort();
  const Bucket = srv.bucket;
  const Key = (p: string) => `${ROOT}/${p}`;
  return {
    async put(p, data) {
      await client.send(new PutObjectCommand({ Bucket, Key: Key(p), Body: typeof data === 'string' ? Buffer.from(data) : data }));
    },
    async putLarge(p, size) {
      const { body, md5 } = largeBody(size);
      await client.send(new PutObjectCommand({ Bucket, Key: Key(p), Body: body, ContentLength: size }));
      return md5;
    },
    async remove(p) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: Key(p) }));
    },
    source: () => source(Bucket, srv.endpoint),
    wireSource: (wire) => source(Bucket, srv.endpoint, { wire }),
    unreachable: () => source(Bucket, `http://127.0.0.1:${deadPort}`),
    dropNextDownload: (p, afterBytes) => srv.dropNextDownload(Key(p), afterBytes),
    async close() {
      client.destroy();
      await srv.close();
    },
  };
}

// the download's received Buffers (here twice: the drop-injecting proxy runs in this process too) wait for
// V8's external-memory GC, ~64 MB: a 160 MiB file keeps the suite's "growth < size/2" check robust
runSourceSuite('s3 (s3rver)', harness, { largeBytes: 160 * 1024 * 1024 });

async function collect(src: Source, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of src.list(dir, { signal: signal() })) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(MonitorError);
      return e as MonitorError;
    },
  );

describe('s3 source against s3rver: listing, directories, hashes, errors', () => {
  let srv: S3rverHandle;
  let client: S3Client;
  let src: Source;
  const put = (k: string, body: string) => client.send(new PutObjectCommand({ Bucket: srv.bucket, Key: `${ROOT}/${k}`, Body: Buffer.from(body) }));

  beforeAll(async () => {
    srv = await startS3rver('models');
    client = directClient(srv);
    src = source(srv.bucket, srv.endpoint);
  });
  afterAll(async () => {
    await src?.close();
    client?.destroy();
    await srv?.close();
  });

  // ~6 s on an idle 2-core box; seeding 1005 objects is most of it, and several times that under load
  it('list follows continuation tokens past 1000 keys', { timeout: 180_000 }, async () => {
    const names = Array.from({ length: 1005 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    await seedObjects(
      srv,
      names.map((n) => [`${ROOT}/many/${n}`, n]),
    );
    const got = await collect(src, 'many');
    expect(got.map((e) => e.path)).toEqual(names);
    expect(got.every((e) => e.size === 5)).toBe(true);
  });

  it('zero-byte directory markers are skipped; a prefix stats as a directory', async () => {
    await put('tree/', '');
    await put('tree/sub/', '');
    await put('tree/sub/f.bin', 'ffff');
    expect((await collect(src, 'tree')).map((e) => [e.path, e.size])).toEqual([['sub/f.bin', 4]]);
    expect(await src.stat('tree/sub/f.bin', { signal: signal() })).toMatchObject({ size: 4 });
    expect(await src.stat('tree/sub', { signal: signal() })).toMatchObject({ isDirectory: true });
    await put('only-under/x/y', 'y'); // no marker at all: still a directory
    expect(await src.stat('only-under', { signal: signal() })).toMatchObject({ isDirectory: true });
    expect(await src.stat('', { signal: signal() })).toMatchObject({ isDirectory: true });
    expect(await src.stat('not-a-prefix', { signal: signal() })).toBeNull();
  });

  it('single-part ETags give the md5, in stat and in list', async () => {
    await put('hash/a.txt', 'hello');
    const want = createHash('md5').update('hello').digest('hex');
    const st = await src.stat('hash/a.txt', { signal: signal() });
    expect(st).toMatchObject({ etag: want, md5: want, size: 5 });
    expect(st!.mtimeMs).toBeGreaterThan(Date.now() - 3_600_000);
    expect(await collect(src, 'hash')).toMatchObject([{ path: 'a.txt', etag: want, md5: want }]);
  });

  it('a missing bucket is a non-retryable error naming the bucket', async () => {
    const bad = source('no-such-bucket', srv.endpoint);
    try {
      const e1 = await failure(bad.stat('donefile', { signal: signal() }));
      expect([e1.code, e1.retryable]).toEqual(['E_REMOTE', false]);
      expect(e1.message).toContain('no-such-bucket');
      const e2 = await failure(collect(bad, 'model'));
      expect(e2.code).toBe('E_REMOTE');
      expect(e2.message).toContain('no-such-bucket');
    } finally {
      await bad.close();
    }
  });

  it('an unknown access key id is an AuthError naming the bucket, not retried', async () => {
    // s3rver checks the key id (InvalidAccessKeyId) but not V4 signatures: wrong secrets are tested below
    const saved = process.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_ACCESS_KEY_ID = 'NOT-A-KEY';
    const bad = source(srv.bucket, srv.endpoint);
    try {
      for (const op of [() => bad.stat('donefile', { signal: signal() }), () => collect(bad, 'many')]) {
        const e = await failure(op());
        expect([e.code, e.retryable]).toEqual(['E_AUTH', false]);
        expect(e.message).toContain(srv.bucket);
      }
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved;
      await bad.close();
    }
  });
});

describe('s3 source: S3 error answers from a real HTTP peer', () => {
  let peer: S3ErrorServer;
  let src: Source;
  beforeAll(async () => {
    peer = await startS3ErrorServer();
    src = source('models', peer.endpoint);
  });
  afterAll(async () => {
    await src?.close();
    await peer?.close();
  });

  const cases: [number, string, string, boolean][] = [
    [403, 'SignatureDoesNotMatch', 'E_AUTH', false],
    [403, 'InvalidAccessKeyId', 'E_AUTH', false],
    [403, 'AccessDenied', 'E_AUTH', false],
    [404, 'NoSuchBucket', 'E_REMOTE', false],
    [503, 'SlowDown', 'E_TRANSIENT', true],
    [500, 'InternalError', 'E_TRANSIENT', true],
    [400, 'InvalidArgument', 'E_REMOTE', false],
  ];
  it.each(cases)('list: HTTP %i %s → %s', async (status, code, want, retryable) => {
    peer.answer(status, code);
    const e = await failure(collect(src, 'model'));
    expect([e.code, e.retryable]).toEqual([want, retryable]);
    if (want !== 'E_TRANSIENT') expect(e.message).toContain('models');
  });

  it('open: 403 AccessDenied is an AuthError, 404 NoSuchKey a NotFoundError', async () => {
    peer.answer(403, 'AccessDenied');
    expect((await failure(src.open('model/a', { signal: signal() }))).code).toBe('E_AUTH');
    peer.answer(404, 'NoSuchKey');
    expect((await failure(src.open('model/a', { signal: signal() }))).code).toBe('E_NOT_FOUND');
  });

  it('stat: a bodiless HEAD 403 is an AuthError, a HEAD 503 transient', async () => {
    peer.answer(403, 'AccessDenied');
    expect((await failure(src.stat('donefile', { signal: signal() }))).code).toBe('E_AUTH');
    peer.answer(503, 'SlowDown');
    expect((await failure(src.stat('donefile', { signal: signal() }))).code).toBe('E_TRANSIENT');
  });

  it('a server that never answers: a TransientError after --timeout; a cancelled cycle: AbortedError', async () => {
    peer.answer(0, 'stall');
    const quick = source('models', peer.endpoint, { timeoutMs: 1_000 });
    try {
      const t0 = Date.now();
      const e = await failure(quick.stat('donefile', { signal: signal() }));
      expect([e.code, e.retryable]).toEqual(['E_TRANSIENT', true]);
      expect(Date.now() - t0).toBeLessThan(20_000);
      const ac = new AbortController();
      const pending = failure(src.stat('donefile', { signal: ac.signal }));
      ac.abort();
      expect((await pending).code).toBe('E_ABORTED');
    } finally {
      await quick.close();
    }
  });
});
