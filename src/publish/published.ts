/**
 * Reading what publish wrote: the donefile, its header, the version manifest
 * it names, checked against each other. Used by publish (what is published
 * now, what can be reused) and by the monitor's view of a published model.
 */
import { decodeIndex, type ChunkIndex } from '../chunk/index-format.js';
import { readSmall } from '../detect.js';
import { IntegrityError, NotFoundError } from '../errors.js';
import { parseManifest } from '../manifest.js';
import { remoteOp } from '../retry.js';
import type { Logger } from '../log.js';
import type { RemoteEntry, Source } from '../sources/types.js';
import { parseDonefileHeader, parsePublishedManifest, underModel, type DonefileHeader, type PublishedFile, type PublishedManifest } from './layout.js';

export interface Published {
  /** The donefile as read. */
  readonly text: string;
  /** Its stat when read (publish compares fingerprints with it). */
  readonly stat: RemoteEntry | null;
  /** Null for a donefile publish did not write. */
  readonly header: DonefileHeader | null;
  readonly manifest: PublishedManifest | null;
}

export interface ReadOptions {
  readonly model: string;
  readonly donefile: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** Each attempt under a deadline of --timeout held by a strong timer, retried while the failure says it may pass. */
const op = (o: ReadOptions, what: string) => ({ signal: o.signal, log: o.log, retries: o.retries, timeoutMs: o.timeoutMs, what });

async function readText(source: Source, p: string, o: ReadOptions): Promise<string | null> {
  return remoteOp(
    (signal) =>
      readSmall(source, p, signal).catch((err: unknown) => {
        if (err instanceof NotFoundError) return null;
        throw err;
      }),
    op(o, `read ${p}`),
  );
}

/** The donefile's md5 lines must be the manifest's files, exactly. */
function agree(text: string, m: PublishedManifest, what: string): void {
  const lines = parseManifest(text);
  if (!lines || lines.size !== m.files.length)
    throw new IntegrityError(`${what}: the donefile lists ${lines?.size ?? 0} files, its manifest ${m.files.length}`);
  for (const f of m.files) {
    if (lines.get(f.path) !== f.md5) throw new IntegrityError(`${what}: the donefile and its manifest disagree about ${f.path}`);
  }
}

/** Reads a version manifest (relative to the model name) and checks it. */
export async function readManifest(source: Source, manifestPath: string, o: ReadOptions, expectVersion?: string): Promise<PublishedManifest> {
  const p = underModel(o.model, manifestPath);
  const text = await readText(source, p, o);
  if (text === null) throw new NotFoundError(`the manifest ${p} named by the donefile is not there`);
  return parsePublishedManifest(text, p, expectVersion);
}

/** What the donefile says now; null when there is no donefile. */
export async function readPublished(source: Source, o: ReadOptions): Promise<Published | null> {
  const stat = await remoteOp((signal) => source.stat(o.donefile, { signal }), op(o, `stat ${o.donefile}`));
  if (!stat || stat.isDirectory) return null;
  const text = await readText(source, o.donefile, o);
  if (text === null) return null;
  const header = parseDonefileHeader(text);
  if (!header) return { text, stat, header: null, manifest: null };
  const manifest = await readManifest(source, header.manifest, o, header.version);
  agree(text, manifest, o.donefile);
  return { text, stat, header, manifest };
}

/**
 * A published file's chunk index, read and checked against its manifest entry
 * (size, md5, byte length); null when the file has none. For the monitor's
 * delta pull: planDelta(servedIndex, this) says what to fetch.
 */
export async function readIndex(source: Source, f: PublishedFile, o: ReadOptions): Promise<ChunkIndex | null> {
  return (await readIndexBytes(source, f, o))?.index ?? null;
}

/** readIndex, with the bytes as read (the monitor keeps them for the next version's delta). */
export async function readIndexBytes(source: Source, f: PublishedFile, o: ReadOptions): Promise<{ index: ChunkIndex; bytes: Buffer } | null> {
  if (!f.index) return null;
  const p = underModel(o.model, f.index.object);
  const bytes = await remoteOp(
    async (signal) => {
      const parts: Buffer[] = [];
      for await (const c of await source.open(p, { signal })) parts.push(c as Buffer);
      return Buffer.concat(parts);
    },
    op(o, `read ${p}`),
  );
  if (bytes.length !== f.index.bytes) throw new IntegrityError(`chunk index ${p}: ${bytes.length} bytes, the manifest says ${f.index.bytes}`);
  return { index: decodeIndex(bytes, p, { size: f.size, md5: f.md5 }), bytes };
}
