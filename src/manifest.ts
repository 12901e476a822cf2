/** md5sum-format manifests: `<32 hex>  <relative path>` (binary mode `*path` too). */
import { IntegrityError } from './errors.js';
import { safeRelative } from './paths.js';

export type Manifest = ReadonlyMap<string, string>;

const LINE = /^([0-9a-fA-F]{32})\s[ *](.+)$/;

/**
 * Parses md5sum output; null when the text is not a manifest at all (a
 * timestamp donefile: no line is `<md5>  <path>`). A text that is one except
 * for some line is an IntegrityError naming that line: one junk line must not
 * quietly turn md5 checking off.
 */
export function parseManifest(text: string): Manifest | null {
  const lines = text
    .split(/\r?\n/)
    .map((l, i) => ({ l, n: i + 1 }))
    .filter(({ l }) => l.trim() !== '' && !l.startsWith('#'));
  const hits = lines.map(({ l }) => LINE.exec(l));
  if (!hits.some((h) => h !== null)) return null;
  const bad = lines.find((_, i) => hits[i] === null);
  if (bad) throw new IntegrityError(`manifest line ${bad.n} is not "<md5>  <path>": ${JSON.stringify(bad.l.slice(0, 80))}`);
  const m = new Map<string, string>();
  for (const hit of hits) m.set(safeRelative(hit![2]!.replace(/^\.\//, '')), hit![1]!.toLowerCase());
  return m;
}
