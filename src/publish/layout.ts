/**
 * How publish lays a model out on the remote, and the two files that describe
 * a published version. Everything a version needs lives under the model name,
 * written once under names no reader looks at until the donefile, written last
 * and in one step, names them:
 *
 *   <root>/<donefile>                           md5sum lines, after a `# model-monitor publish` header
 *   <root>/<model>/<version>/manifest.json      the version: every file's path, size, md5, object, index
 *   <root>/<model>/<version>/files/<path>       the files this version uploaded (unchanged ones stay
 *                                               where an earlier version put them: the manifest says where)
 *   <root>/<model>/<version>/index/<path>.cdx   chunk indexes of its files above the threshold
 *
 * Nothing is ever overwritten but the donefile, so a reader that follows the
 * donefile it read sees one version whole, whatever publish is doing (or was
 * doing when it was killed); docs/publish.md says why this and not a rename
 * of the model directory.
 */
import { IntegrityError } from '../errors.js';
import { joinRemote, safeRelative } from '../paths.js';

export const PUBLISH_FORMAT = 'model-monitor-publish';
export const PUBLISH_FORMAT_VERSION = 1;

/** `20261202T125500Z-3fa9c1`: sortable by time, unique per run. */
export const VERSION_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/**
 * A new version id that sorts after `previous` (the version it replaces), even
 * when the clock says otherwise: garbage collection deletes only versions that
 * sort before the new one.
 */
export function newVersionId(now: Date, random: string, previous?: string | null): string {
  const id = (d: Date) =>
    `${d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${random}`;
  if (!previous || id(now) > previous) return id(now);
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(previous)!;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return id(new Date(Date.UTC(y, mo - 1, d, h, mi, sec) + 1000));
}

/** Paths relative to the model name on the remote. */
export const layout = {
  manifest: (v: string) => `${v}/manifest.json`,
  object: (v: string, p: string) => `${v}/files/${p}`,
  index: (v: string, p: string) => `${v}/index/${p}.cdx`,
  /** The new donefile is written here, then moved over the old one. */
  donefileTmp: (v: string) => `${v}/donefile.tmp`,
};

export interface PublishedFile {
  /** Path in the model (for a single-file model: its name). */
  readonly path: string;
  readonly size: number;
  readonly md5: string;
  /** Where its bytes are, relative to the model name on the remote. */
  readonly object: string;
  /** Its chunk index (format 1), for files above the threshold. */
  readonly index?: { readonly object: string; readonly chunks: number; readonly bytes: number };
}

export interface PublishedManifest {
  readonly format: typeof PUBLISH_FORMAT;
  readonly formatVersion: typeof PUBLISH_FORMAT_VERSION;
  readonly version: string;
  readonly publishedAt: string;
  /** A directory of files, or a single file (a tar, say) published as the model name itself. */
  readonly kind: 'dir' | 'file';
  /** The manifest of the version this one replaced (retention follows this chain). */
  readonly previous: string | null;
  readonly files: readonly PublishedFile[];
}

export interface DonefileHeader {
  readonly version: string;
  /** Manifest path relative to the model name. */
  readonly manifest: string;
}

const HEADER = /^# model-monitor publish format=(\d+) version=(\S+) manifest=(\S+)\s*$/;

/** The donefile: a header comment (md5sum parsers skip it), then `md5  path` per file, sorted. */
export function renderDonefile(m: PublishedManifest): string {
  const head = `# model-monitor publish format=${PUBLISH_FORMAT_VERSION} version=${m.version} manifest=${layout.manifest(m.version)}`;
  return `${[head, ...[...m.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => `${f.md5}  ${f.path}`)].join('\n')}\n`;
}

/** The header of a donefile publish wrote; null for any other donefile (a timestamp, a hand-made md5sum). */
export function parseDonefileHeader(text: string): DonefileHeader | null {
  const first = text.split('\n', 1)[0] ?? '';
  const m = HEADER.exec(first);
  if (!m) return null;
  if (Number(m[1]) !== PUBLISH_FORMAT_VERSION) throw new IntegrityError(`donefile: publish format ${m[1]}; this build reads format ${PUBLISH_FORMAT_VERSION}`);
  const version = m[2]!;
  if (!VERSION_ID.test(version)) throw new IntegrityError(`donefile: bad version id ${JSON.stringify(version)}`);
  return { version, manifest: checkedObject(m[3]!, 'donefile manifest=') };
}

/** An object path inside the model name: relative, safe, under a version directory. */
function checkedObject(p: string, what: string): string {
  let rel: string;
  try {
    rel = safeRelative(p);
  } catch (err) {
    throw new IntegrityError(`${what}: unsafe path ${JSON.stringify(p)}`, { cause: err });
  }
  if (!VERSION_ID.test(rel.split('/')[0] ?? '')) throw new IntegrityError(`${what}: ${JSON.stringify(p)} is not under a version directory`);
  return rel;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseFile(raw: unknown, i: number, what: string): PublishedFile {
  const at = `${what}: files[${i}]`;
  if (!isObj(raw)) throw new IntegrityError(`${at} is not an object`);
  const { path: p, size, md5, object, index } = raw;
  if (typeof p !== 'string' || /[\n\r]/.test(p)) throw new IntegrityError(`${at}.path is not a file name`);
  let rel: string;
  try {
    rel = safeRelative(p);
  } catch (err) {
    throw new IntegrityError(`${at}.path is unsafe: ${JSON.stringify(p)}`, { cause: err });
  }
  if (!isSize(size)) throw new IntegrityError(`${at}.size is not a size`);
  if (typeof md5 !== 'string' || !/^[0-9a-f]{32}$/.test(md5)) throw new IntegrityError(`${at}.md5 is not an md5`);
  if (typeof object !== 'string') throw new IntegrityError(`${at}.object is missing`);
  const out = { path: rel, size, md5, object: checkedObject(object, `${at}.object`) };
  if (index === undefined) return out;
  if (!isObj(index) || typeof index.object !== 'string' || !isSize(index.chunks) || !isSize(index.bytes)) throw new IntegrityError(`${at}.index is malformed`);
  return { ...out, index: { object: checkedObject(index.object, `${at}.index.object`), chunks: index.chunks, bytes: index.bytes } };
}

/** Parses and checks a version manifest; `expectVersion` is the donefile's. */
export function parsePublishedManifest(text: string, what: string, expectVersion?: string): PublishedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new IntegrityError(`${what}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isObj(raw) || raw.format !== PUBLISH_FORMAT) throw new IntegrityError(`${what}: not a ${PUBLISH_FORMAT} manifest`);
  if (raw.formatVersion !== PUBLISH_FORMAT_VERSION)
    throw new IntegrityError(`${what}: format version ${String(raw.formatVersion)}; this build reads ${PUBLISH_FORMAT_VERSION}`);
  const { version, kind, previous, files, publishedAt } = raw;
  if (typeof version !== 'string' || !VERSION_ID.test(version)) throw new IntegrityError(`${what}: bad version id`);
  if (expectVersion !== undefined && version !== expectVersion) throw new IntegrityError(`${what}: is version ${version}, the donefile names ${expectVersion}`);
  if (kind !== 'dir' && kind !== 'file') throw new IntegrityError(`${what}: kind must be dir or file`);
  if (!Array.isArray(files) || files.length === 0) throw new IntegrityError(`${what}: no files`);
  const parsed = files.map((f, i) => parseFile(f, i, what));
  if (new Set(parsed.map((f) => f.path)).size !== parsed.length) throw new IntegrityError(`${what}: a path is listed twice`);
  if (kind === 'file' && parsed.length !== 1) throw new IntegrityError(`${what}: a single-file model lists ${parsed.length} files`);
  return {
    format: PUBLISH_FORMAT,
    formatVersion: PUBLISH_FORMAT_VERSION,
    version,
    publishedAt: typeof publishedAt === 'string' ? publishedAt : '',
    kind,
    previous: previous === null || previous === undefined ? null : checkedObject(String(previous), `${what}: previous`),
    files: parsed,
  };
}

export function renderManifest(m: PublishedManifest): string {
  return `${JSON.stringify(m, null, 1)}\n`;
}

/** Remote path (relative to the source root) of something under the model name. */
export const underModel = (model: string, p: string) => joinRemote(model, p).replace(/^\//, '');
