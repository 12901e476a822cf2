/**
 * The monitor's view of a model that `publish` wrote: a Source that shows the
 * model name as the directory (or file) the donefile's version manifest
 * describes, its files at their logical paths, each read from the object where
 * that version keeps it. Every other path, and every remote whose donefile
 * publish did not write, passes straight through to the real source.
 *
 * The manifest is read again each time the model itself is stat'ed (plan does
 * that first, once per pull, and confirm once more before the swap), so one
 * pull sees one version: a publish between two pulls changes the next one,
 * never the one in flight. The md5s the view reports are the donefile's, which
 * verify checks every file against.
 *
 * The one-version checks (same-version.ts, confirm.ts) compare what a read's
 * answer says (openedMeta) with the listing. Here the listing is the
 * manifest's, so the answer is given in the logical file's terms too: the
 * size the store reported for the object, and as the version the object read
 * (`published:<object>`, also the listed ETag). Published objects are never
 * rewritten, so the object's name is its version; the store's own ETag and
 * mtime describe the object, which no listing the monitor made names. A read
 * that went to another object than the listed one (the manifest changed
 * between the listing and the read) is a ModelChangedError, not mixed bytes.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { RemoteChoice } from '../remote.js';
import {
  openedMeta,
  withMeta,
  type DownloadOptions,
  type DownloadResult,
  type DownloadTarget,
  type IoOptions,
  type OpenedMeta,
  type OpenOptions,
  type RemoteEntry,
  type Source,
  type SourceDeps,
} from '../sources/types.js';
import { underModel, type PublishedFile, type PublishedManifest } from './layout.js';
import { readPublished } from './published.js';

export interface ViewOptions {
  readonly model: string;
  readonly donefile: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly log: Logger;
}

interface Snapshot {
  readonly manifest: PublishedManifest;
  readonly byPath: ReadonlyMap<string, PublishedFile>;
}

export function publishedView(inner: Source, o: ViewOptions): Source {
  return new PublishedView(inner, o);
}

/**
 * The source for a remote as a monitor reads it: a model publish wrote through its manifest, any other as is.
 * The view's own lines (its manifest reads) carry the source's bindings too, as the source's do (backend.ts).
 */
export function monitorSource(
  c: Pick<RemoteChoice, 'sourceKind' | 'openSource' | 'remoteModel' | 'remoteDonefile'>,
  deps: SourceDeps & { readonly retries: number },
): Source {
  const raw = c.openSource(deps);
  const log = deps.log.child({ component: 'source', source: c.sourceKind });
  return publishedView(raw, { model: c.remoteModel, donefile: c.remoteDonefile, timeoutMs: deps.timeoutMs, retries: deps.retries, log });
}

/** The version a published file is listed with, and what a read of it answers: the object it lives in. */
const objectTag = (f: PublishedFile) => `published:${f.object}`;

const entry = (path: string, f: PublishedFile): RemoteEntry => ({ path, size: f.size, md5: f.md5, etag: objectTag(f), isDirectory: false });

class PublishedView implements Source {
  readonly kind: string;
  readonly displayUrl: string;
  readonly features: Source['features'];
  readonly localPath?: (p: string) => string;
  readonly requestUrl?: (p: string) => string;
  readonly download?: NonNullable<Source['download']>;
  private snap: Promise<Snapshot | null> | null = null;
  /** The snapshot `snap` resolved to, for the synchronous localPath() and requestUrl(). */
  private last: Snapshot | null = null;

  constructor(
    private readonly inner: Source,
    private readonly o: ViewOptions,
  ) {
    this.kind = inner.kind;
    this.displayUrl = inner.displayUrl;
    this.features = inner.features;
    if (inner.localPath) this.localPath = (p) => inner.localPath!(this.mapped(p, this.last));
    // A replica's GET of a published file goes to its object, whose name is already one per version.
    if (inner.requestUrl) this.requestUrl = (p) => inner.requestUrl!(this.mapped(p, this.last));
    if (inner.download) this.download = (p, t, o) => this.downloadVia(inner.download!.bind(inner), p, t, o);
  }

  /** download() as open() does it: a published file from its object, its answer in the logical file's terms. */
  private async downloadVia(down: NonNullable<Source['download']>, p: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult | null> {
    const f = this.fileAt(p, await this.snapIfUnder(p, o.signal));
    if (!f) return down(p, t, o);
    const onMeta = (seen: OpenedMeta) => o.onMeta?.({ ...(seen.size !== undefined ? { size: seen.size } : {}), etag: objectTag(f) });
    return down(underModel(this.o.model, f.object), t, { ...o, onMeta });
  }

  private load(signal: AbortSignal): Promise<Snapshot | null> {
    const s = readPublished(this.inner, { ...this.o, signal }).then((pub) => {
      this.last = pub?.manifest ? { manifest: pub.manifest, byPath: new Map(pub.manifest.files.map((f) => [f.path, f])) } : null;
      return this.last;
    });
    // A failed read fails the call (the caller's retry reads again), never falls back to the raw listing.
    this.snap = s;
    s.catch(() => {
      if (this.snap === s) this.snap = null;
    });
    return s;
  }

  private current(signal: AbortSignal): Promise<Snapshot | null> {
    return this.snap ?? this.load(signal);
  }

  /** The published file at logical path `p` (under the model name), if the snapshot has one. */
  private fileAt(p: string, s: Snapshot | null): PublishedFile | undefined {
    if (!s) return undefined;
    const m = this.o.model;
    return s.manifest.kind === 'file' && p === m ? s.manifest.files[0] : p.startsWith(`${m}/`) ? s.byPath.get(p.slice(m.length + 1)) : undefined;
  }

  /** `p` → where its bytes are, for a published file; anything else as is. */
  private mapped(p: string, s: Snapshot | null): string {
    const f = this.fileAt(p, s);
    return f ? underModel(this.o.model, f.object) : p;
  }

  async stat(p: string, io: IoOptions): Promise<RemoteEntry | null> {
    if (p !== this.o.model) {
      const f = this.fileAt(p, await this.snapIfUnder(p, io.signal));
      if (!f) return this.inner.stat(p, io);
      const st = await this.inner.stat(underModel(this.o.model, f.object), io);
      return st && !st.isDirectory ? { ...entry(p, f), size: st.size } : null;
    }
    const s = await this.load(io.signal);
    if (!s) return this.inner.stat(p, io);
    if (s.manifest.kind === 'dir') return { path: p, size: 0, isDirectory: true };
    return entry(p, s.manifest.files[0]!);
  }

  async *list(dir: string, io: IoOptions): AsyncIterable<RemoteEntry> {
    const s = dir === this.o.model ? await this.current(io.signal) : null;
    if (!s) {
      yield* this.inner.list(dir, io);
      return;
    }
    for (const f of s.manifest.files) yield entry(f.path, f);
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    const f = this.fileAt(p, await this.snapIfUnder(p, o.signal));
    if (!f) return this.inner.open(p, o);
    const stream = await this.inner.open(underModel(this.o.model, f.object), o);
    const seen = openedMeta(stream);
    return withMeta(stream, { ...(seen?.size !== undefined ? { size: seen.size } : {}), etag: objectTag(f) });
  }

  private async snapIfUnder(p: string, signal: AbortSignal): Promise<Snapshot | null> {
    return p === this.o.model || p.startsWith(`${this.o.model}/`) ? this.current(signal) : null;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
