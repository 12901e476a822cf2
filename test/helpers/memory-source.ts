/**
 * An in-memory Source for tests: files held as Buffers, ETags and mtimes that
 * change with every put, ranged reads, fault injection (a read cut after N
 * bytes), and a record of every open(). It passes the conformance suite
 * (test/sources/memory.test.ts), so cycle-level tests can run the whole
 * pipeline in-process without spawning the CLI or a server. Test-only.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { abortReason, NotFoundError, TransientError } from '../../src/errors.js';
import { joinRemote, safeRelative } from '../../src/paths.js';
import { withMeta, type IoOptions, type OpenOptions, type RemoteEntry, type Source } from '../../src/sources/types.js';

interface MemFile {
  readonly data: Buffer;
  readonly mtimeMs: number;
  readonly etag: string;
}

export interface OpenCall {
  readonly path: string;
  readonly start: number;
  readonly length: number | undefined;
}

const CHUNK = 64 * 1024;

export class MemorySource implements Source {
  readonly kind = 'memory';
  readonly displayUrl = 'memory://';
  readonly features: { readonly md5: false; readonly etag: true; readonly ranges: boolean; readonly mtimeResolutionMs: 1 };
  readonly opens: OpenCall[] = [];
  private readonly files = new Map<string, MemFile>();
  private readonly drops = new Map<string, number[]>();
  private clock = Date.UTC(2026, 0, 1);

  /** `ranges: false` stands for a source that cannot start mid-file (the Hadoop CLI). */
  constructor(o: { ranges?: boolean } = {}) {
    this.features = { md5: false, etag: true, ranges: o.ranges ?? true, mtimeResolutionMs: 1 };
  }

  /** Writes a file (every write a new version: a later mtime and a new ETag). */
  put(p: string, data: Buffer | string): void {
    const buf = Buffer.from(data);
    this.clock += 1000;
    this.files.set(safeRelative(p), { data: buf, mtimeMs: this.clock, etag: `${createHash('md5').update(buf).digest('hex')}-${this.clock}` });
  }

  remove(p: string): void {
    this.files.delete(safeRelative(p));
  }

  /** The next reads of `p` are cut (a TransientError) after these byte counts, one each. */
  dropNext(p: string, ...afterBytes: number[]): void {
    this.drops.set(safeRelative(p), afterBytes);
  }

  private key(p: string): string {
    return joinRemote(p).replace(/^\//, '');
  }

  private under(dir: string): [string, MemFile][] {
    const d = this.key(dir);
    return [...this.files].filter(([k]) => d === '' || k.startsWith(`${d}/`)).map(([k, f]) => [d === '' ? k : k.slice(d.length + 1), f]);
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    o.signal.throwIfAborted();
    const f = this.files.get(this.key(p));
    if (f) return { path: p, size: f.data.length, mtimeMs: f.mtimeMs, etag: f.etag };
    return this.under(p).length > 0 ? { path: p, size: 0, isDirectory: true } : null;
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const files = this.under(dir);
    if (files.length === 0) throw new NotFoundError(`no such directory: memory://${dir}`);
    for (const [rel, f] of files) {
      if (o.signal.aborted) throw abortReason(o.signal);
      yield { path: safeRelative(rel), size: f.data.length, mtimeMs: f.mtimeMs, etag: f.etag };
    }
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    o.signal.throwIfAborted();
    const f = this.files.get(this.key(p));
    if (!f) throw new NotFoundError(`no such file: memory://${p}`);
    if (o.start && !this.features.ranges) throw new Error('open() with start on a source without ranges');
    const start = o.start ?? 0;
    this.opens.push({ path: p, start, length: o.length });
    const end = o.length === undefined ? f.data.length : Math.min(f.data.length, start + o.length);
    const cut = this.drops.get(this.key(p))?.shift();
    const bytes = f.data.subarray(start, cut === undefined ? end : Math.min(end, start + cut));
    let at = 0;
    const stream = new Readable({
      read() {
        if (o.signal.aborted) return this.destroy(abortReason(o.signal));
        if (at < bytes.length) {
          this.push(bytes.subarray(at, (at += CHUNK)));
          return;
        }
        if (cut !== undefined && start + cut < end) this.destroy(new TransientError(`memory://${p}: connection dropped after ${cut} bytes`));
        else this.push(null);
      },
    });
    return withMeta(stream, { size: f.data.length, mtimeMs: f.mtimeMs, etag: f.etag });
  }

  async close(): Promise<void> {}
}
