import { createReadStream } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError, NotFoundError, RemoteError } from '../errors.js';
import { joinRemote, safeRelative } from '../paths.js';
import { withMeta, type IoOptions, type OpenOptions, type RemoteEntry, type Source, type SourceDeps, type SourceFactory } from './types.js';

export interface FileOptions {
  /** Absolute local directory that stands for the remote root. */
  readonly root: string;
}

/** `file:///path`: a local or NFS-mounted directory. Same pipeline, no network. */
export const file = {
  kind: 'file',
  schemes: ['file'],
  types: ['file'],
  options: [],
  parse(remote: URL): FileOptions {
    if (remote.host !== '' && remote.host !== 'localhost') {
      throw new ConfigError('remote', `file:// URLs name a local path, not a host (${remote.host})`);
    }
    const root = decodeURIComponent(remote.pathname);
    if (!path.isAbsolute(root)) throw new ConfigError('remote', `file:// needs an absolute path, got ${root}`);
    return { root };
  },
  create(opts: FileOptions, _deps?: SourceDeps): Source {
    return new FileSource(opts.root);
  },
} satisfies SourceFactory<FileOptions>;

class FileSource implements Source {
  readonly kind = 'file';
  readonly features = { md5: false, etag: false, ranges: true, mtimeResolutionMs: 1 } as const;
  readonly displayUrl: string;

  constructor(private readonly root: string) {
    this.displayUrl = `file://${root}`;
  }

  private local(p: string): string {
    const rel = joinRemote(p).replace(/^\//, '');
    return rel === '' ? this.root : path.join(this.root, ...safeRelative(rel).split('/'));
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    o.signal.throwIfAborted();
    try {
      const s = await stat(this.local(p));
      return { path: p, size: s.isDirectory() ? 0 : s.size, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory() };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new RemoteError(`cannot stat ${this.displayUrl}/${p}`, { cause: err });
    }
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const top = this.local(dir);
    const s = await this.stat(dir, o);
    if (!s) throw new NotFoundError(`no such directory: ${this.displayUrl}/${dir}`);
    if (!s.isDirectory) throw new RemoteError(`not a directory: ${this.displayUrl}/${dir}`);
    yield* walk(top, '', o.signal);
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    o.signal.throwIfAborted();
    const s = await this.stat(p, o);
    if (!s || s.isDirectory) throw new NotFoundError(`no such file: ${this.displayUrl}/${p}`);
    const start = o.start ?? 0;
    const end = o.length !== undefined ? start + o.length - 1 : undefined;
    // 1 MiB reads: a local disk or NFS gives big reads cheaply, and every chunk costs a trip through the pipeline.
    const stream = createReadStream(this.local(p), { start, ...(end !== undefined ? { end } : {}), signal: o.signal, highWaterMark: 1024 * 1024 });
    return withMeta(stream, { size: s.size, ...(s.mtimeMs !== undefined ? { mtimeMs: s.mtimeMs } : {}) });
  }

  localPath(p: string): string {
    return this.local(p);
  }

  async close(): Promise<void> {}
}

async function* walk(abs: string, rel: string, signal: AbortSignal): AsyncIterable<RemoteEntry> {
  const dir = await opendir(abs);
  for await (const d of dir) {
    signal.throwIfAborted();
    const childRel = rel ? `${rel}/${d.name}` : d.name;
    const childAbs = path.join(abs, d.name);
    if (d.isDirectory()) {
      yield* walk(childAbs, childRel, signal);
    } else if (d.isFile()) {
      const s = await stat(childAbs);
      yield { path: safeRelative(childRel), size: s.size, mtimeMs: s.mtimeMs };
    }
  }
}
