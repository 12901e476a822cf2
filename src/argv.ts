/**
 * The command line as the user typed it, before commander sees the canonical
 * spellings: unknown flags get a "did you mean" in the user's own style
 * (Paddle's underscores or kebab case, `=value` never echoed), and a
 * ConfigError's flag is named the way the user wrote it.
 */
import { aliasMap } from './config.js';
import { ConfigError } from './errors.js';
import { envName, kebab, type OptionSpec } from './options.js';

const GLOBAL = new Set(['help', 'version']);

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Every spelling a user may type, as typed: `local-path`, `local_path`, Paddle's `ftp_ip`. */
function spellings(specs: readonly OptionSpec[]): string[] {
  const out = new Set<string>(GLOBAL);
  for (const s of specs) {
    out.add(s.name).add(s.name.replace(/-/g, '_'));
    for (const a of s.aliases ?? []) out.add(a).add(kebab(a));
  }
  return [...out];
}

/** The closest known spelling in the style the user typed (underscores or dashes), or null. */
export function suggestFlag(typed: string, specs: readonly OptionSpec[]): string | null {
  const want = kebab(typed);
  let best: { s: string; d: number } | null = null;
  for (const s of spellings(specs)) {
    const d = editDistance(want, kebab(s));
    if (!best || d < best.d) best = { s, d };
  }
  if (!best || best.d > Math.max(2, Math.floor(want.length * 0.3))) return null;
  const underscores = typed.includes('_');
  const same = spellings(specs).filter((s) => kebab(s) === kebab(best.s));
  return same.find((s) => (underscores ? s.includes('_') : !s.includes('_'))) ?? best.s;
}

/**
 * Throws ConfigError for the first `--flag` that no option knows, with a
 * suggestion. Values of options that take one are skipped; `--` ends options.
 */
export function checkFlags(args: readonly string[], specs: readonly OptionSpec[]): void {
  const aliases = aliasMap(specs);
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const typed = a.slice(2, eq < 0 ? undefined : eq);
    const name = kebab(typed);
    if (GLOBAL.has(name)) continue;
    const canon = aliases.get(name);
    const negated = name.startsWith('no-') ? aliases.get(name.slice(3)) : undefined;
    if (canon) {
      const spec = byName.get(canon) ?? byName.get(canon.replace(/^no-/, '')); // `--no-touch` names a negation
      if (eq < 0 && spec?.kind !== 'bool') i++; // its value
      continue;
    }
    if (negated && byName.get(negated)?.kind === 'bool') continue;
    const hint = suggestFlag(typed, specs);
    throw new ConfigError('', `unknown option '--${typed}'${hint ? ` (did you mean --${hint}?)` : ''}`);
  }
}

/**
 * How to name `flag` in an error: as the user typed it when they did
 * (`--ftp_ip`), else the canonical name with where the value came from or
 * its other spellings: `--ftp-host (--ftp_ip)`, `--interval (MODEL_MONITOR_INTERVAL)`.
 */
export function flagLabel(flag: string, args: readonly string[], env: NodeJS.ProcessEnv, specs: readonly OptionSpec[]): string {
  const aliases = aliasMap(specs);
  for (const a of args) {
    if (a === '--') break;
    if (!a.startsWith('--')) continue;
    const typed = a.slice(2).split('=')[0]!;
    if (aliases.get(kebab(typed)) === flag) return `--${typed}`;
  }
  if (env[envName(flag)] !== undefined) return `--${flag} (${envName(flag)})`;
  const others = specs.find((s) => s.name === flag)?.aliases ?? [];
  return others.length ? `--${flag} (${others.map((x) => `--${x}`).join(', ')})` : `--${flag}`;
}
