/**
 * Parsers for what `hadoop fs` prints. Pure functions, no I/O: the Hadoop CLI source
 * runs the commands, these read their stdout / stderr.
 */

/** One line of `hadoop fs -ls` / `-ls -R` / `-lsr`. */
export interface LsEntry {
  readonly permissions: string;
  readonly isDirectory: boolean;
  readonly size: number;
  /** Minute resolution, read in the local time zone (what the client printed in). */
  readonly mtimeMs: number;
  /** As printed: the path given on the command line, joined with the child's name. */
  readonly path: string;
}

/** `-stat "%b %Y %F"`: size in bytes, mtime in ms since the epoch, type. */
export const STAT_FORMAT = '%b %Y %F';

export interface StatResult {
  readonly size: number;
  readonly mtimeMs: number;
  readonly isDirectory: boolean;
}

// perm (+ ACL / extended-attribute flag), replication ('-' for dirs), owner and group (may hold spaces),
// size, date, time, then exactly one space and the path (which may hold anything but a newline).
const LS_LINE = /^([-dlbcps][-rwxsStTl]{9}[+@.]?)\s+(-|\d+)\s+(.*?)\s+(\d+)\s+(\d{4})-(\d{2})-(\d{2})\s+(\d{2}):(\d{2}) (.+)$/;

/** Lines that are not entries but are fine to see on stdout. */
const LS_NOISE = /^(Found \d+ items?|\s*)$/;

/** One `-ls` line → entry; null for the `Found N items` header and blank lines; throws on anything else. */
export function parseLsLine(line: string): LsEntry | null {
  const l = line.replace(/\r$/, '');
  if (LS_NOISE.test(l)) return null;
  const m = LS_LINE.exec(l);
  if (!m) throw new SyntaxError(`unexpected line in hadoop fs -ls output: ${JSON.stringify(l.slice(0, 200))}`);
  const [, perm, , , size, y, mo, d, h, mi, p] = m;
  return {
    permissions: perm!,
    isDirectory: perm!.startsWith('d'),
    size: Number(size),
    mtimeMs: new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi)).getTime(),
    path: p!,
  };
}

/** Every entry of an `-ls` output. */
export function parseLsOutput(stdout: string): LsEntry[] {
  const out: LsEntry[] = [];
  for (const line of stdout.split('\n')) {
    const e = parseLsLine(line);
    if (e) out.push(e);
  }
  return out;
}

/** The output of `-stat "%b %Y %F"` for one path (the last non-empty line: some clients print warnings first). */
export function parseStat(stdout: string): StatResult {
  const line =
    stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? '';
  const m = /^(\d+) (\d+) (.+)$/.exec(line);
  if (!m) throw new SyntaxError(`unexpected hadoop fs -stat output: ${JSON.stringify(line.slice(0, 200))}`);
  const type = m[3]!.toLowerCase();
  if (!/^(directory|regular (empty )?file|symlink|file)$/.test(type)) {
    throw new SyntaxError(`unexpected file type in hadoop fs -stat output: ${JSON.stringify(type)}`);
  }
  return { size: Number(m[1]), mtimeMs: Number(m[2]), isDirectory: type === 'directory' };
}

export type HadoopFailure = 'not-found' | 'auth' | 'other';

/**
 * What a failed `hadoop fs` run means, from its stderr. Hadoop ≥ 2 prints
 * "ls: `/x': No such file or directory" (exit 1); Hadoop 1 "ls: Cannot access /x: No
 * such file or directory." (exit 255).
 */
export function classifyHadoopStderr(stderr: string): HadoopFailure {
  // FsShell's own wording only: a broken install ("bin/java: No such file or directory") is not "absent".
  if (/^-?\w+: `.*': No such file or directory\s*$|Cannot access .*: No such file or directory|java\.io\.FileNotFoundException/m.test(stderr)) {
    return 'not-found';
  }
  if (/Permission denied|AccessControlException|SecurityException|Authentication failed|GSSException/i.test(stderr)) return 'auth';
  return 'other';
}

/** Hadoop 1 has no `-ls -R` (it takes `-R` for a path, or refuses it): use `-lsr` there. */
export function isLegacyRecursiveLs(stderr: string): boolean {
  return /Cannot access -R\b|Illegal option -R|`-R': No such file or directory/.test(stderr);
}

/** The first meaningful stderr line (Java stack frames and log4j noise dropped), for error messages. */
export function stderrSummary(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim());
  const useful = lines.filter((l) => l && !/^at |^\.\.\. \d+ more|^(SLF4J|log4j):| (WARN|INFO|DEBUG) /.test(l));
  return (useful[0] ?? lines.find(Boolean) ?? '').slice(0, 300);
}

/** Escapes Hadoop glob characters, so that a literal name reaches `hadoop fs` unexpanded. */
export function escapeGlob(p: string): string {
  return p.replace(/[\\*?[\]{}]/g, '\\$&');
}

/**
 * `path` as printed by `-ls -R <dir>` → relative to `dir`; null when it is `dir`
 * itself. Handles `hdfs://nn:8020/dir/x` forms and trailing slashes.
 */
export function relativeTo(dir: string, path: string): string | null {
  const strip = (p: string) => p.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/\/+$/, '') || '/';
  const d = strip(dir);
  const p = strip(path);
  if (p === d) return null;
  const prefix = d === '/' ? '/' : `${d}/`;
  if (!p.startsWith(prefix)) throw new SyntaxError(`hadoop fs -ls printed ${JSON.stringify(path)}, outside ${dir}`);
  return p.slice(prefix.length);
}
