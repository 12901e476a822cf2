/**
 * After a publish: deletes what no retained version needs. Retained = the
 * version just published and the ones before it along the manifests'
 * `previous` chain, --keep-versions in all (default 2, so a monitor still
 * pulling the previous version finishes it). Deleted: files under version
 * directories older than the new version that no retained manifest names
 * (their own objects, indexes, manifests, and what killed runs left). Newer
 * version directories are never touched (one publisher per model at a time;
 * see docs/publish.md). Best effort: a failure here is logged, the publish
 * stands.
 */
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Source } from '../sources/types.js';
import { layout, underModel, VERSION_ID, type PublishedManifest } from './layout.js';
import { readManifest } from './published.js';
import type { Writer } from './types.js';

export interface GcOptions {
  readonly model: string;
  readonly donefile: string;
  readonly keepVersions: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/** Every path (relative to the model name) a retained version needs. */
async function retained(source: Source, current: PublishedManifest, o: GcOptions): Promise<Set<string>> {
  const keep = new Set<string>();
  let m: PublishedManifest | null = current;
  for (let n = 0; m && n < o.keepVersions; n++) {
    keep.add(layout.manifest(m.version));
    for (const f of m.files) {
      keep.add(f.object);
      if (f.index) keep.add(f.index.object);
    }
    const prev: string | null = m.previous;
    m = prev ? await readManifest(source, prev, o).catch(() => null) : null;
  }
  return keep;
}

export async function collectGarbage(source: Source, writer: Writer, current: PublishedManifest, o: GcOptions): Promise<number> {
  const keep = await retained(source, current, o);
  const doomed: string[] = [];
  for await (const e of source.list(o.model, { signal: o.signal })) {
    const vid = e.path.split('/')[0] ?? '';
    if (VERSION_ID.test(vid) && vid < current.version && !keep.has(e.path)) doomed.push(e.path);
  }
  const io = { signal: o.signal };
  for (const p of doomed) await writer.delete(underModel(o.model, p), io);
  // Directories left empty, deepest first (stores without directories ignore this).
  const dirs = new Set<string>();
  for (const p of doomed) for (let d = path.posix.dirname(p); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) await writer.removeDir(underModel(o.model, d), io);
  if (doomed.length) o.log.info({ event: 'collected', files: doomed.length }, `deleted ${doomed.length} files no retained version needs`);
  return doomed.length;
}
