/**
 * Version-keyed file URLs for pulls through a shared cache or a P2P tier.
 *
 * Model files keep their paths from one version to the next, so a cache
 * keyed by URL alone holds v1's `big.bin` under the name v2 asks for. Every
 * request says `Cache-Control: no-cache`, which makes an HTTP cache
 * revalidate with the origin, but that needs validators: WebHDFS datanodes
 * send neither Last-Modified nor ETag (a cache can only fetch the file again),
 * and Dragonfly's dfdaemon does not revalidate a finished task at all (its
 * task id is the URL). So, when a proxy is in use, each file's GET carries
 * `mmkey=<key>`, the file's identity as the origin's own listing just gave it
 * (ETag, else mtime and size): the same for every replica pulling that
 * version, different for the next one. A cache may then keep the bytes under
 * that URL for good (Squid: `refresh_pattern [?&]mmkey= … ignore-reload`), and
 * a dfdaemon task id changes with the version. Origins ignore the parameter:
 * static file servers and S3 take unknown query parameters, WebHDFS datanodes
 * and HttpFS read only the parameters each operation declares.
 */
import { joinRemote } from '../paths.js';
import type { RemoteEntry } from './types.js';

export const CONTENT_KEY_PARAM = 'mmkey';

/** The identity of one file version as the origin describes it, or null when it gives nothing to go on. */
export function contentKey(e: Pick<RemoteEntry, 'etag' | 'mtimeMs' | 'size' | 'isDirectory'>): string | null {
  if (e.isDirectory) return null;
  const etag = e.etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (etag) return etag;
  return e.mtimeMs === undefined ? null : `${Math.round(e.mtimeMs)}-${e.size}`;
}

const norm = (p: string) => joinRemote(p).replace(/^\//, '');

/**
 * The keys of the files a source listed or stat'ed last, by path under its
 * root; open() asks here. One listing at a time: a new list() starts afresh,
 * so the map never holds more than one model's files.
 */
export class ContentKeys {
  private readonly keys = new Map<string, string>();

  constructor(
    /** Off when no proxy is in use: the URLs stay as they were. */
    readonly enabled: boolean,
  ) {}

  reset(): void {
    this.keys.clear();
  }

  note(path: string, e: Pick<RemoteEntry, 'etag' | 'mtimeMs' | 'size' | 'isDirectory'>): void {
    const k = contentKey(e);
    if (k === null) this.keys.delete(norm(path));
    else this.keys.set(norm(path), k);
  }

  /** The key of `path` as last listed, enabled or not. */
  known(path: string): string | undefined {
    return this.keys.get(norm(path));
  }

  /** The key a GET of `path` carries: only when enabled (through a proxy). */
  get(path: string): string | undefined {
    return this.enabled ? this.keys.get(norm(path)) : undefined;
  }

  /**
   * `url` with the key of `path` as its `mmkey` parameter, when one is known;
   * `always` (preheat: the URLs replicas behind a proxy request) even when not enabled.
   */
  apply(url: URL, path: string, always = false): URL {
    const k = always ? this.known(path) : this.get(path);
    if (k === undefined) return url;
    const out = new URL(url.href);
    out.searchParams.set(CONTENT_KEY_PARAM, k);
    return out;
  }
}
