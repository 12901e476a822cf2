/**
 * The monitor's view of a model that `publish` wrote: a Source that shows the
 * model name as the directory (or file) the donefile's version manifest
 * describes, its files at their logical paths, each read from the object where
 * that version keeps it. Every other path, and every remote whose donefile
 * publish did not write, passes straight through to the real source.
 *
 * The manifest is read again each time the model itself is stat'ed (plan does
 * that first, once per pull), so one pull sees one version: a publish between
 * two pulls changes the next one, never the one in flight. The md5s the view
 * reports are the donefile's, which verify checks every file against.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { IoOptions, OpenOptions, RemoteEntry, Source } from '../sources/types.js';
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

class PublishedView implements Source {
  readonly kind: string;
  readonly displayUrl: string;
  readonly features: Source['features'];
  readonly localPath?: (p: string) => string;
  private snap: Promise<Snapshot | null> | null = null;
  /** The snapshot `snap` resolved to, for the synchronous localPath(). */
  private last: Snapshot | null = null;

  constructor(
    private readonly inner: Source,
    private readonly o: ViewOptions,
  ) {
    this.kind = inner.kind;
    this.displayUrl = inner.displayUrl;
    this.features = inner.features;
    if (inner.localPath) this.localPath = (p) => inner.localPath!(this.mapped(p, this.last));
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

  /** `p` → where its bytes are, for a path under the model name; anything else as is. */
  private mapped(p: string, s: Snapshot | null): string {
    if (!s) return p;
    const m = this.o.model;
    const f = s.manifest.kind === 'file' && p === m ? s.manifest.files[0] : p.startsWith(`${m}/`) ? s.byPath.get(p.slice(m.length + 1)) : undefined;
    return f ? underModel(m, f.object) : p;
  }

  async stat(p: string, io: IoOptions): Promise<RemoteEntry | null> {
    if (p !== this.o.model) return this.inner.stat(this.mapped(p, await this.snapIfUnder(p, io.signal)), io);
    const s = await this.load(io.signal);
    if (!s) return this.inner.stat(p, io);
    if (s.manifest.kind === 'dir') return { path: p, size: 0, isDirectory: true };
    const f = s.manifest.files[0]!;
    return { path: p, size: f.size, md5: f.md5, isDirectory: false };
  }

  async *list(dir: string, io: IoOptions): AsyncIterable<RemoteEntry> {
    const s = dir === this.o.model ? await this.current(io.signal) : null;
    if (!s) {
      yield* this.inner.list(dir, io);
      return;
    }
    for (const f of s.manifest.files) yield { path: f.path, size: f.size, md5: f.md5 };
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    return this.inner.open(this.mapped(p, await this.snapIfUnder(p, o.signal)), o);
  }

  private async snapIfUnder(p: string, signal: AbortSignal): Promise<Snapshot | null> {
    return p === this.o.model || p.startsWith(`${this.o.model}/`) ? this.current(signal) : null;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
