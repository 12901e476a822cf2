/**
 * plan: the remote model's listing (+ the manifest, + what is served) →
 * FetchPlan. The decision is planFiles(), a pure function; plan() reads what
 * it decides from. Nothing is downloaded here but a manifest.
 */
import { EmptyModelError, IntegrityError, NotFoundError } from './errors.js';
import { readSmall } from './detect.js';
import type { Logger } from './log.js';
import { parseManifest, type Manifest } from './manifest.js';
import type { Aspired, FileRecord, ServedRecord } from './model.js';
import { joinRemote } from './paths.js';
import { remoteOp } from './retry.js';
import type { RemoteEntry, Source } from './sources/types.js';

export interface PlannedFile {
  /** Path relative to the model dir (for an archive: the archive's basename). */
  readonly path: string;
  /** Path relative to the source root. */
  readonly remote: string;
  readonly size: number;
  /** Expected md5 (manifest, or an ETag that is a content md5). */
  readonly md5?: string;
  readonly mtimeMs?: number;
  readonly etag?: string;
  /** A served file with the same size and md5 to reuse (--incremental). */
  readonly reuseFrom?: string;
}

/**
 * --incremental's quick check (rsync's, plus content hashes where known): same
 * size, and the same md5, or the same ETag, or the same remote mtime.
 */
export function unchanged(
  old: FileRecord | undefined,
  e: { size: number; md5?: string | undefined; etag?: string | undefined; mtimeMs?: number | undefined },
): boolean {
  if (!old || old.size !== e.size) return false;
  if (old.md5 && e.md5) return old.md5 === e.md5;
  if (old.etag && e.etag) return old.etag === e.etag;
  return old.remoteMtimeMs !== undefined && e.mtimeMs !== undefined && old.remoteMtimeMs === e.mtimeMs;
}

export interface FetchPlan {
  readonly aspired: Aspired;
  readonly archive: boolean;
  readonly files: readonly PlannedFile[];
  readonly totalBytes: number;
  readonly manifest: Manifest | null;
}

export interface PlanOptions {
  readonly manifestName: string | null;
  readonly verify: 'auto' | 'size' | 'md5' | 'none';
  readonly donefile: string;
  readonly incremental: boolean;
  readonly timeoutMs: number;
  readonly retries: number;
  /** The model is an archive to unpack (--unpacked_filename). */
  readonly archive: boolean;
  /** Files never reused by hardlink (the timestamp file is rewritten after the swap). */
  readonly neverReuse?: readonly string[];
}

async function loadManifest(source: Source, a: Aspired, o: PlanOptions, ctx: { signal: AbortSignal; log: Logger }): Promise<Manifest | null> {
  if (o.verify === 'none' || o.verify === 'size') return null;
  if (o.manifestName) {
    const p = joinRemote(a.remoteModel, o.manifestName);
    const text = await remoteOp((signal) => readSmall(source, p, signal), {
      signal: ctx.signal,
      log: ctx.log,
      retries: o.retries,
      timeoutMs: o.timeoutMs,
      what: `read manifest ${p}`,
    });
    const m = parseManifest(text);
    if (!m) throw new IntegrityError(`--manifest ${o.manifestName} is not in md5sum format (<md5>  <path> lines)`);
    return m;
  }
  const text =
    a.donefile ??
    (await remoteOp((signal) => readSmall(source, o.donefile, signal), {
      signal: ctx.signal,
      log: ctx.log,
      retries: o.retries,
      timeoutMs: o.timeoutMs,
      what: `read donefile ${o.donefile}`,
    }).catch((err: unknown) => {
      if (err instanceof NotFoundError) return '';
      throw err;
    }));
  const m = parseManifest(text);
  if (!m && o.verify === 'md5') throw new IntegrityError('--verify md5 needs a manifest: an md5sum-format donefile or --manifest NAME');
  return m;
}

/** A single-file model (not a directory) is an archive when asked, or when its name says so. */
export const ARCHIVE_NAME = /\.(tar|tar\.gz|tgz)$/i;

export interface Listing {
  readonly entries: RemoteEntry[];
  readonly single: boolean;
}

/** The remote model (`model`, relative to the source root): a directory's files, or the one file it is. */
export async function listModel(
  source: Source,
  model: string,
  o: Pick<PlanOptions, 'timeoutMs' | 'retries' | 'archive'>,
  ctx: { signal: AbortSignal; log: Logger },
): Promise<Listing> {
  const st = await remoteOp((signal) => source.stat(model, { signal }), {
    signal: ctx.signal,
    log: ctx.log,
    retries: o.retries,
    timeoutMs: o.timeoutMs,
    what: `stat ${model}`,
  });
  if (!st) throw new NotFoundError(`the donefile is there but the model ${model} is not`);
  if (!st.isDirectory) return { entries: [{ ...st, path: model.split('/').pop()! }], single: true };
  if (o.archive) throw new IntegrityError(`--unpacked_filename was given but ${model} is a directory, not a tar`);
  // A listing may be many requests (pages, directories): each has the deadline, not the whole.
  return remoteOp(
    async (signal) => {
      const out: RemoteEntry[] = [];
      for await (const e of source.list(model, { signal })) out.push(e);
      return { entries: out, single: false };
    },
    { signal: ctx.signal, log: ctx.log, retries: o.retries, timeoutMs: null, what: `list ${model}` },
  );
}

/** The listing's entries that are the model's files (the manifest is not one). */
export function modelEntries(entries: readonly RemoteEntry[], o: Pick<PlanOptions, 'manifestName'>): RemoteEntry[] {
  return entries.filter((e) => e.path !== o.manifestName);
}

/** What planFiles() decides by, besides the listing, the manifest and what is served. */
export interface PlanRules extends Pick<PlanOptions, 'manifestName' | 'incremental' | 'archive' | 'neverReuse'> {
  readonly aspired: Aspired;
  /** The source's listing gives content md5s (features.md5). */
  readonly listedMd5: boolean;
}

/**
 * The plan, decided from what was read: which files the model has, where each
 * is on the remote, the md5 each must have (the manifest's, else a listed
 * content md5), and which are reused from the served model (--incremental). No I/O.
 */
export function planFiles(listing: Listing, manifest: Manifest | null, served: ServedRecord | null, o: PlanRules): FetchPlan {
  const a = o.aspired;
  const archive = listing.single && (o.archive || ARCHIVE_NAME.test(a.remoteModel));
  const listed = modelEntries(listing.entries, o);
  if (listed.length === 0) throw new EmptyModelError(`the remote model ${a.remoteModel} has no files; refusing an empty model`);
  const byPath = new Map((served?.files ?? []).map((f) => [f.path, f]));
  const files = listed.map((e): PlannedFile => {
    const md5 = manifest?.get(e.path) ?? (o.listedMd5 ? e.md5 : undefined);
    const reusable =
      o.incremental &&
      !listing.single &&
      !o.neverReuse?.includes(e.path) &&
      unchanged(byPath.get(e.path), { size: e.size, md5, etag: e.etag, mtimeMs: e.mtimeMs });
    const remote = listing.single ? a.remoteModel : joinRemote(a.remoteModel, e.path);
    return {
      path: e.path,
      remote,
      size: e.size,
      ...(md5 ? { md5 } : {}),
      ...(e.mtimeMs !== undefined ? { mtimeMs: e.mtimeMs } : {}),
      ...(e.etag ? { etag: e.etag } : {}),
      ...(reusable ? { reuseFrom: e.path } : {}),
    };
  });
  return { aspired: a, archive, files, totalBytes: files.reduce((n, f) => n + (f.reuseFrom ? 0 : f.size), 0), manifest };
}

/** plan: the remote read (the model's listing, its manifest), then planFiles(). */
export async function plan(
  source: Source,
  a: Aspired,
  served: ServedRecord | null,
  o: PlanOptions,
  ctx: { signal: AbortSignal; log: Logger },
): Promise<FetchPlan> {
  const [listing, manifest] = await Promise.all([listModel(source, a.remoteModel, o, ctx), loadManifest(source, a, o, ctx)]);
  return planFiles(listing, manifest, served, { ...o, aspired: a, listedMd5: source.features.md5 });
}
