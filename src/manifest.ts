/** md5sum-format manifests: `<32 hex>  <relative path>` (binary mode `*path` too). */
import { safeRelative } from './paths.js';

export type Manifest = ReadonlyMap<string, string>;

const LINE = /^([0-9a-fA-F]{32})\s[ *](.+)$/;

/** Parses md5sum output; null when the text is not a manifest (e.g. a timestamp donefile). */
export function parseManifest(text: string): Manifest | null {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length === 0) return null;
  const m = new Map<string, string>();
  for (const l of lines) {
    const hit = LINE.exec(l);
    if (!hit) return null;
    m.set(safeRelative(hit[2]!.replace(/^\.\//, '')), hit[1]!.toLowerCase());
  }
  return m;
}
