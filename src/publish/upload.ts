/**
 * One file's bytes, read once: hashed (md5, and the chunk index above the
 * threshold) on their way to the writer, or only hashed when publish has to
 * know whether the remote already has them. The local file must not change
 * while it is read: its size and mtime are checked before and after.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileHasher, type FileDigest } from '../chunk/build.js';
import type { ChunkParams } from '../chunk/cdc.js';
import type { HashPool } from '../chunk/hash-pool.js';
import { IntegrityError } from '../errors.js';
import type { Logger } from '../log.js';
import { remoteOp } from '../retry.js';
import type { LocalFile } from './local.js';
import type { Writer } from './types.js';

/** 1 MiB reads: what the chunker and the hashes were measured with (bench/chunk.test.ts). */
const READ_BYTES = 1024 * 1024;

export interface UploadContext {
  readonly writer: Writer;
  /** Hashes on the other cores; null: in this thread. */
  readonly hashPool: HashPool | null;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly retries: number;
  readonly onBytes?: (n: number) => void;
}

async function unchangedSince(f: LocalFile, d: FileDigest): Promise<void> {
  const s = await stat(f.abs);
  if (s.size !== f.size || s.mtimeMs !== f.mtimeMs || d.size !== f.size) {
    throw new IntegrityError(`${f.abs} changed while it was read (size ${f.size} → ${s.size}); publish a model only once it is written`);
  }
}

interface StreamHasher {
  update(buf: Buffer): Promise<void> | void;
  digest(): Promise<FileDigest>;
}

/** md5 (and the chunk index) on the hash pool's workers, or in this thread when there is none. */
function newHasher(chunking: ChunkParams | null, pool: HashPool | null): StreamHasher {
  if (!pool) {
    const h = new FileHasher(chunking);
    return { update: (b) => h.update(b), digest: async () => h.digest() };
  }
  const job = pool.file(chunking);
  let size = 0;
  return {
    update: (b) => {
      size += b.length;
      return job.push(b);
    },
    digest: async () => {
      const { md5, index } = await job.end();
      return { size, md5, index: index ? index(size) : null };
    },
  };
}

function tap(hasher: StreamHasher, onBytes?: (n: number) => void): Transform {
  return new Transform({
    highWaterMark: READ_BYTES,
    transform(chunk: Buffer, _enc, cb) {
      onBytes?.(chunk.length);
      const wait = hasher.update(chunk);
      if (wait) wait.then(() => cb(null, chunk), cb);
      else cb(null, chunk);
    },
  });
}

/** Reads and hashes without uploading. */
export async function hashFile(f: LocalFile, chunking: ChunkParams | null, ctx: Pick<UploadContext, 'signal' | 'hashPool'>): Promise<FileDigest> {
  const h = newHasher(chunking, ctx.hashPool);
  for await (const c of createReadStream(f.abs, { highWaterMark: READ_BYTES, signal: ctx.signal })) await h.update(c as Buffer);
  const d = await h.digest();
  await unchangedSince(f, d);
  return d;
}

/** Uploads `f` to `dest` (a fresh name), hashing as it goes; retried whole from the first byte. */
export async function uploadFile(f: LocalFile, dest: string, chunking: ChunkParams | null, ctx: UploadContext): Promise<FileDigest> {
  return remoteOp(
    async () => {
      const hasher = newHasher(chunking, ctx.hashPool);
      const body = tap(hasher, ctx.onBytes);
      const reading = pipeline(createReadStream(f.abs, { highWaterMark: READ_BYTES, signal: ctx.signal }), body).catch((err: unknown) => {
        body.destroy(err as Error);
        throw err;
      });
      await Promise.all([ctx.writer.put(dest, body, { signal: ctx.signal, size: f.size }), reading]);
      const d = await hasher.digest();
      await unchangedSince(f, d);
      return d;
    },
    // A file's upload has no whole-upload deadline (a big file takes long): the writer's requests have theirs.
    { signal: ctx.signal, log: ctx.log, retries: ctx.retries, timeoutMs: null, what: `upload ${f.path}` },
  );
}

/** Uploads a small in-memory object (a manifest, an index, a donefile) to a fresh name. */
export async function uploadBytes(dest: string, bytes: Buffer, ctx: UploadContext): Promise<void> {
  await remoteOp(() => ctx.writer.put(dest, Readable.from([bytes]), { signal: ctx.signal, size: bytes.length }), {
    signal: ctx.signal,
    log: ctx.log,
    retries: ctx.retries,
    timeoutMs: null,
    what: `upload ${dest}`,
  });
}
