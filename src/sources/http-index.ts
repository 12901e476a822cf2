/**
 * Autoindex pages (nginx `autoindex on`, Apache mod_autoindex, `python3 -m
 * http.server`, and anything else that lists a directory as links) → the
 * directory's direct children, as `wget -r -np` would follow them.
 *
 * Only the href is read, never the link text (nginx truncates long names in
 * the text, Apache and python escape it differently) nor the size column
 * (nginx rounds it: `12M`). A link is kept when, resolved against the
 * directory URL, it stays on the same origin, has no query (the nginx/Apache
 * sort links `?C=M;O=A`) and names one segment directly under the directory
 * (`name` or `name/`). Parent links, absolute links elsewhere, other hosts and
 * deeper paths are dropped; `..` cannot survive URL resolution. The decoded
 * name must pass safeSegment(): an encoded `/`, `\` or NUL is refused.
 */
import { safeSegment } from '../paths.js';

export interface IndexLink {
  /** Decoded single path segment, safe to use as a local name. */
  readonly name: string;
  /** The link ended in `/`. */
  readonly isDirectory: boolean;
}

const HREF = /<a\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

/** HTML character references in an attribute value. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/** Every href of every `<a>` in the page, entity-decoded, in page order. */
export function extractHrefs(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(HREF)) {
    const raw = m[1] ?? m[2] ?? m[3] ?? '';
    out.push(decodeEntities(raw.trim()));
  }
  return out;
}

function decodeSegment(seg: string): string | null {
  try {
    return decodeURIComponent(seg);
  } catch {
    return null; // malformed %-escape: not a link any of the known servers writes
  }
}

/** The child a link names, or null when it is not a direct child of `dir`. */
export function childOf(href: string, dir: URL): IndexLink | null {
  if (href === '' || href.startsWith('?') || href.startsWith('#')) return null;
  let u: URL;
  try {
    u = new URL(href, dir);
  } catch {
    return null;
  }
  if (u.origin !== dir.origin || u.search !== '') return null;
  // compare segment by segment, decoded: servers encode the same name differently (`:` vs `%3A`)
  const base = dir.pathname.split('/').slice(0, -1); // dir.pathname ends with '/'
  const segs = u.pathname.split('/');
  for (let i = 0; i < base.length; i++) {
    if (segs[i] === undefined || decodeSegment(segs[i]!) !== decodeSegment(base[i]!)) return null;
  }
  const rest = segs.slice(base.length);
  const isDirectory = rest.length === 2 && rest[1] === '';
  if (!(rest.length === 1 || isDirectory) || rest[0] === '') return null;
  const name = decodeSegment(rest[0]!);
  if (name === null) return null;
  return { name: safeSegment(name), isDirectory };
}

/**
 * The direct children an autoindex page at `dir` (a URL ending in `/`) links
 * to, deduplicated, in page order. Throws UnsafePathError for a child whose
 * decoded name is not a plain segment.
 */
export function parseIndex(html: string, dir: URL): IndexLink[] {
  if (!dir.pathname.endsWith('/')) throw new TypeError(`directory URL must end with /: ${dir.pathname}`);
  const seen = new Set<string>();
  const out: IndexLink[] = [];
  for (const href of extractHrefs(html)) {
    const link = childOf(href, dir);
    if (!link) continue;
    const key = `${link.isDirectory ? 'd' : 'f'}:${link.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(link);
  }
  return out;
}
