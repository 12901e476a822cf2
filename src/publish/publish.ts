/**
 * publish: a local model → a new published version, the donefile last.
 *
 *   read what is published → plan (reuse or upload, file by file) → upload
 *   files and chunk indexes → write the manifest → commit the donefile →
 *   collect garbage
 *
 * Every step before the commit writes only names under a new version
 * directory, which nothing reads until the donefile names it: kill -9 before
 * the commit leaves the previous version published, whole, its donefile
 * untouched (what the killed run wrote is garbage the next publish collects).
 * The commit is one atomic step (rename over the donefile, or an S3 PUT); from
 * then on the new version is published, and whatever happens after (garbage
 * collection) cannot unpublish it.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import type { ChunkParams } from '../chunk/cdc.js';
import { encodeIndex } from '../chunk/index-format.js';
import { HashPool } from '../chunk/hash-pool.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { remoteOp } from '../retry.js';
import type { RemoteEntry, Source } from '../sources/types.js';
import { collectGarbage } from './gc.js';
import { layout, newVersionId, renderDonefile, renderManifest, underModel, VERSION_ID, type PublishedFile, type PublishedManifest } from './layout.js';
import type { LocalFile, LocalModel } from './local.js';
import { readPublished, type Published } from './published.js';
import type { Writer } from './types.js';
import { hashFile, uploadBytes, uploadFile, type UploadContext } from './upload.js';

export interface PublishOptions {
  readonly model: string;
  readonly donefile: string;
  readonly keepVersions: number;
  /** Chunk files larger than this (null: no chunk indexes). */
  readonly chunking: { readonly params: ChunkParams; readonly threshold: number } | null;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly onBytes?: (n: number) => void;
  /** Tests: a fixed clock. */
  readonly now?: () => Date;
}

export interface PublishResult {
  readonly version: string;
  readonly files: number;
  readonly bytes: number;
  readonly uploadedFiles: number;
  readonly uploadedBytes: number;
  readonly reusedFiles: number;
  readonly reusedBytes: number;
  readonly indexBytes: number;
  readonly collected: number;
}

interface Planned {
  readonly file: PublishedFile;
  readonly uploaded: boolean;
  readonly indexBytes: number;
}

/** Runs `fn` over `items`, at most `n` at a time; the first failure stops the rest. */
async function runAll<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** What is published now; refuses a remote model that publish did not write (it would be deleted or mixed with ours). */
async function current(source: Source, o: PublishOptions): Promise<Published | null> {
  const pub = await readPublished(source, o);
  if (pub?.manifest) return pub;
  const st = await remoteOp((signal) => source.stat(o.model, { signal }), { ...o, what: `stat ${o.model}` });
  if (!st) return pub;
  const foreign = st.isDirectory ? await firstForeign(source, o) : o.model;
  if (foreign !== null) {
    throw new ConfigError(
      'remote-model-name',
      `the remote ${o.model} holds ${foreign}, which publish did not write; publish keeps its versions under ${o.model}/: move the old model away or choose another name`,
    );
  }
  return pub;
}

async function firstForeign(source: Source, o: PublishOptions): Promise<string | null> {
  for await (const e of source.list(o.model, { signal: o.signal })) {
    if (!VERSION_ID.test(e.path.split('/')[0] ?? '')) return `${o.model}/${e.path}`;
  }
  return null;
}

async function exists(source: Source, p: string, size: number, o: PublishOptions): Promise<boolean> {
  const s: RemoteEntry | null = await remoteOp((signal) => source.stat(p, { signal }), { ...o, what: `stat ${p}` });
  return s !== null && !s.isDirectory && s.size === size;
}

/** One file: reuse the previous version's object when size and md5 match (and it is still there), else upload. */
async function planFile(f: LocalFile, prev: PublishedFile | undefined, vid: string, source: Source, ctx: UploadContext, o: PublishOptions): Promise<Planned> {
  const chunking = o.chunking && f.size > o.chunking.threshold ? o.chunking.params : null;
  const putIndex = async (d: { index: Parameters<typeof encodeIndex>[0] | null }) => {
    if (!d.index) return undefined;
    const bytes = encodeIndex(d.index);
    const object = layout.index(vid, f.path);
    await uploadBytes(underModel(o.model, object), bytes, ctx);
    return { object, chunks: d.index.lengths.length, bytes: bytes.length };
  };
  if (prev && prev.size === f.size) {
    // Same size: hash first (one read); a second read uploads it only if it did change.
    const d = await hashFile(f, prev.index || !chunking ? null : chunking, ctx);
    if (d.md5 === prev.md5 && (await exists(source, underModel(o.model, prev.object), prev.size, o))) {
      const index = prev.index ?? (await putIndex(d));
      return { file: { path: f.path, size: f.size, md5: d.md5, object: prev.object, ...(index ? { index } : {}) }, uploaded: false, indexBytes: 0 };
    }
  }
  const object = layout.object(vid, f.path);
  const d = await uploadFile(f, underModel(o.model, object), chunking, ctx);
  const index = await putIndex(d);
  return { file: { path: f.path, size: f.size, md5: d.md5, object, ...(index ? { index } : {}) }, uploaded: true, indexBytes: index?.bytes ?? 0 };
}

/** Same (mtime at the store's resolution, size, ETag) as the donefile before: a monitor in timestamp mode could not tell them apart. */
function sameFingerprint(a: RemoteEntry | null, b: RemoteEntry | null, resolutionMs: number): boolean {
  if (!a || !b) return false;
  const t = (e: RemoteEntry) => Math.floor((e.mtimeMs ?? 0) / Math.max(1, resolutionMs));
  return t(a) === t(b) && a.size === b.size && a.etag === b.etag;
}

/**
 * The commit: the new donefile replaces the old one in one step. An S3 PUT is
 * atomic; elsewhere it is written under the new version and renamed over.
 * kill -9 before the rename/PUT: the old donefile stands; after: the new one.
 */
async function commit(writer: Writer, text: string, vid: string, ctx: UploadContext, o: PublishOptions): Promise<void> {
  const bytes = Buffer.from(text);
  if (writer.features.atomicPut && !writer.features.atomicReplace) {
    await remoteOp(() => writer.put(o.donefile, Readable.from([bytes]), { signal: o.signal, size: bytes.length }), {
      ...o,
      timeoutMs: null,
      what: `write ${o.donefile}`,
    });
    return;
  }
  const tmp = underModel(o.model, layout.donefileTmp(vid));
  await uploadBytes(tmp, bytes, ctx);
  await remoteOp((signal) => writer.rename(tmp, o.donefile, { signal }), { ...o, what: `rename ${tmp} to ${o.donefile}` });
}

async function commitDistinct(
  source: Source,
  writer: Writer,
  text: string,
  vid: string,
  before: RemoteEntry | null,
  ctx: UploadContext,
  o: PublishOptions,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await commit(writer, text, vid, ctx, o);
    const after = await remoteOp((signal) => source.stat(o.donefile, { signal }), { ...o, what: `stat ${o.donefile}` });
    if (!sameFingerprint(before, after, source.features.mtimeResolutionMs) || attempt >= 3) return;
    // Two publishes within one mtime tick (FTP's MDTM has whole seconds) with donefiles of one size: write it again a tick later.
    o.log.info({ event: 'donefile-rewrite' }, "the new donefile has the old one's timestamp and size; writing it again a second later");
    await sleep(source.features.mtimeResolutionMs + 100, undefined, { signal: o.signal });
  }
}

export async function publish(local: LocalModel, source: Source, writer: Writer, o: PublishOptions): Promise<PublishResult> {
  // md5s and chunk indexes on worker threads: on one thread they would be publish's bottleneck (bench/chunk.test.ts).
  const hashPool = HashPool.create();
  try {
    return await publishWith(local, source, writer, o, hashPool);
  } finally {
    await hashPool?.close();
  }
}

async function publishWith(local: LocalModel, source: Source, writer: Writer, o: PublishOptions, hashPool: HashPool | null): Promise<PublishResult> {
  const ctx: UploadContext = { writer, hashPool, signal: o.signal, log: o.log, retries: o.retries, ...(o.onBytes ? { onBytes: o.onBytes } : {}) };
  const prev = await current(source, o);
  const old = prev?.manifest && prev.manifest.kind === local.kind ? new Map(prev.manifest.files.map((f) => [f.path, f])) : new Map<string, PublishedFile>();
  const vid = newVersionId(o.now?.() ?? new Date(), randomBytes(3).toString('hex'), prev?.header?.version);
  const log = o.log.child({ version: vid });
  log.info(
    { event: 'publish', files: local.files.length, bytes: local.totalBytes, previous: prev?.header?.version ?? null },
    `publishing ${local.files.length} files as ${vid}`,
  );
  const planned = await runAll(local.files, o.concurrency, (f) => planFile(f, old.get(f.path), vid, source, ctx, o));
  const manifest: PublishedManifest = {
    format: 'model-monitor-publish',
    formatVersion: 1,
    version: vid,
    publishedAt: new Date().toISOString(),
    kind: local.kind,
    previous: prev?.header?.manifest ?? null,
    files: planned.map((p) => p.file),
  };
  await uploadBytes(underModel(o.model, layout.manifest(vid)), Buffer.from(renderManifest(manifest)), ctx);
  await commitDistinct(source, writer, renderDonefile(manifest), vid, prev?.stat ?? null, ctx, o);
  log.info({ event: 'committed' }, `the donefile now names ${vid}`);
  const collected = await collectGarbage(source, writer, manifest, { ...o, log }).catch((err: unknown) => {
    log.warn({ event: 'gc-failed', err }, 'could not delete what older versions left; the next publish tries again');
    return 0;
  });
  const up = planned.filter((p) => p.uploaded);
  const sum = (ps: Planned[]) => ps.reduce((n, p) => n + p.file.size, 0);
  return {
    version: vid,
    files: planned.length,
    bytes: local.totalBytes,
    uploadedFiles: up.length,
    uploadedBytes: sum(up),
    reusedFiles: planned.length - up.length,
    reusedBytes: sum(planned.filter((p) => !p.uploaded)),
    indexBytes: planned.reduce((n, p) => n + p.indexBytes, 0),
    collected,
  };
}
