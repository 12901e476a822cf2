/**
 * S3: PutObject for a file up to MULTIPART_FROM, multipart upload above it
 * (parts of PART_BYTES, PARTS_IN_FLIGHT at a time per file, each part retried
 * on its own). Either way the object appears whole or not at all. No rename:
 * publish lays S3 out so that it never needs one (docs/publish.md).
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { RemoteError, TransientError } from '../errors.js';
import type { Logger } from '../log.js';
import { joinRemote, safeRelative } from '../paths.js';
import { NEVER, withDeadline } from '../deadline.js';
import { remoteOp } from '../retry.js';
import { mapS3Error, type S3Options } from '../sources/s3.js';
import { s3Client, type S3Handle, type Sdk } from '../sources/s3-client.js';
import type { IoOptions } from '../sources/types.js';
import type { PutOptions, Writer, WriterDeps, WriterFactory } from './types.js';

const MiB = 1024 * 1024;
/** Above this, multipart: a failed part is retried alone, and a file uploads on several connections. */
export const MULTIPART_FROM = 16 * MiB;
/** 8 MiB parts (the AWS CLI's default), more for files past 80 GB (S3 allows 10,000 parts). */
const PART_BYTES = 8 * MiB;
/** Parts buffered and uploading at once per file: memory is (this + 1) × the part size per file. */
const PARTS_IN_FLIGHT = 4;

export const s3Writer = {
  kind: 's3',
  create(opts: S3Options, deps: WriterDeps): Writer {
    return new S3Writer(opts, deps);
  },
} satisfies WriterFactory<S3Options>;

/** Reads exactly `n` bytes (fewer only at the end of the stream) from an async iterator of buffers. */
class PartReader {
  private rest: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;

  constructor(body: Readable) {
    this.it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    if (this.rest.length) {
      parts.push(this.rest.subarray(0, n));
      have = parts[0]!.length;
      this.rest = this.rest.subarray(have);
    }
    while (have < n) {
      const r = await this.it.next();
      if (r.done) break;
      const take = Math.min(r.value.length, n - have);
      parts.push(r.value.subarray(0, take));
      this.rest = r.value.subarray(take);
      have += take;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
  }
}

class S3Writer implements Writer {
  readonly kind = 's3';
  readonly features = { atomicReplace: false, atomicPut: true } as const;
  readonly displayUrl: string;
  private readonly log: Logger;
  private readonly client: S3Handle;

  constructor(
    private readonly opts: S3Options,
    private readonly deps: WriterDeps,
  ) {
    this.displayUrl = `s3://${opts.bucket}/${opts.prefix}`;
    this.log = deps.log;
    this.client = s3Client(opts, deps, this.log);
  }

  private key(p: string): string {
    return joinRemote(this.opts.prefix, safeRelative(joinRemote(p).replace(/^\//, ''))).replace(/^\//, '');
  }

  /**
   * One SDK call, errors mapped, under a deadline of --timeout held by a strong timer (deadline.ts);
   * `deadline: false` for a call that takes as long as its bytes do (a PUT, a part: the SDK's
   * idle-socket timeout bounds those) or as S3 takes (completing a multipart upload).
   */
  private async call<T>(
    what: string,
    signal: AbortSignal,
    op: (sdk: Sdk, client: S3Client, s: AbortSignal) => Promise<T>,
    o: { deadline?: boolean } = {},
  ): Promise<T> {
    const { sdk, client } = await this.client.ready();
    const attempt = async (s: AbortSignal) => {
      try {
        return await op(sdk, client, s);
      } catch (err) {
        throw mapS3Error(err, what, this.opts.bucket, s);
      }
    };
    return o.deadline === false ? attempt(signal) : withDeadline(signal, this.deps.timeoutMs, what, attempt);
  }

  async put(p: string, body: Readable, o: PutOptions): Promise<void> {
    const Key = this.key(p);
    const Bucket = this.opts.bucket;
    if (o.size <= MULTIPART_FROM) {
      // The body streams (not retried here: the caller re-reads the file for another attempt).
      await this.call(
        `put ${Key}`,
        o.signal,
        (sdk, client, s) => client.send(new sdk.PutObjectCommand({ Bucket, Key, Body: body, ContentLength: o.size }), { abortSignal: s }),
        { deadline: false },
      );
      return;
    }
    await this.multipart(Key, body, o);
  }

  private async multipart(Key: string, body: Readable, o: PutOptions): Promise<void> {
    const Bucket = this.opts.bucket;
    const created = await this.call(`create multipart ${Key}`, o.signal, (sdk, client, s) =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal: s }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new RemoteError(`create multipart ${Key}: no upload id in the answer`);
    try {
      const parts = await this.uploadParts(Key, UploadId, body, o);
      await this.call(
        `complete multipart ${Key}`,
        o.signal,
        (sdk, client, s) =>
          client.send(new sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: s }),
        { deadline: false }, // S3 may take minutes to assemble a big object (sending keep-alive whitespace meanwhile)
      );
    } catch (err) {
      body.destroy();
      // Best effort: an upload left open costs storage until a lifecycle rule aborts it (kill -9 leaves one too).
      await this.call(`abort multipart ${Key}`, NEVER, (sdk, client, s) =>
        client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal: s }),
      ).catch((e: unknown) => this.log.warn({ event: 'multipart-abort-failed', err: e }, 'could not abort a failed multipart upload'));
      throw err;
    }
  }

  private async uploadParts(Key: string, UploadId: string, body: Readable, o: PutOptions): Promise<{ ETag: string; PartNumber: number }[]> {
    const partSize = Math.max(PART_BYTES, Math.ceil(o.size / 10_000));
    const reader = new PartReader(body);
    const done: { ETag: string; PartNumber: number }[] = [];
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    for (let PartNumber = 1; sent < o.size; PartNumber++) {
      const bytes = await reader.read(Math.min(partSize, o.size - sent));
      if (bytes.length === 0) throw new TransientError(`upload ${Key}: the file ended after ${sent} of ${o.size} bytes`);
      sent += bytes.length;
      const job = this.uploadPart(Key, UploadId, PartNumber, bytes, o.signal).then((ETag) => void done.push({ ETag, PartNumber }));
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job)).catch(() => {});
      if (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if ((await reader.read(1)).length > 0) throw new TransientError(`upload ${Key}: the file is longer than ${o.size} bytes`);
    return done.sort((a, b) => a.PartNumber - b.PartNumber);
  }

  private uploadPart(Key: string, UploadId: string, PartNumber: number, Body: Buffer, signal: AbortSignal): Promise<string> {
    const Bucket = this.opts.bucket;
    return remoteOp(
      async () => {
        const r = await this.call(
          `upload part ${PartNumber} of ${Key}`,
          signal,
          (sdk, client, s) =>
            client.send(new sdk.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }), { abortSignal: s }),
          { deadline: false },
        );
        if (!r.ETag) throw new RemoteError(`upload part ${PartNumber} of ${Key}: no ETag in the answer`);
        return r.ETag;
      },
      { signal, log: this.log, retries: this.deps.retries, timeoutMs: null, what: `upload part ${PartNumber} of ${Key}` },
    );
  }

  /** S3 has no rename: a server-side copy then a delete (publish never needs it; here for the interface). */
  async rename(from: string, to: string, o: IoOptions): Promise<void> {
    const Bucket = this.opts.bucket;
    const [src, Key] = [this.key(from), this.key(to)];
    const CopySource = `${Bucket}/${src.split('/').map(encodeURIComponent).join('/')}`;
    await this.call(`copy ${src} to ${Key}`, o.signal, (sdk, client, s) =>
      client.send(new sdk.CopyObjectCommand({ Bucket, Key, CopySource }), { abortSignal: s }),
    );
    await this.delete(from, o);
  }

  async delete(p: string, o: IoOptions): Promise<void> {
    const Key = this.key(p);
    await this.call(`delete ${Key}`, o.signal, (sdk, client, s) =>
      client.send(new sdk.DeleteObjectCommand({ Bucket: this.opts.bucket, Key }), { abortSignal: s }),
    );
  }

  async removeDir(): Promise<void> {}

  close(): Promise<void> {
    return this.client.close();
  }
}
