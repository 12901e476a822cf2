/**
 * What the commander program in cli.ts is made of: options from the specs,
 * the merged raw values (and --print-config), the warning about secrets typed
 * on the command line, and the mapping of errors to one line and an exit code.
 */
import { Option, type Command } from 'commander';
import { flagLabel } from './argv.js';
import { printableConfig, resolveRaw } from './config.js';
import { coreOptions } from './core-options.js';
import { readOptions } from './option-values.js';
import { sources } from './sources/index.js';
import { ConfigError, LockedError, MonitorError } from './errors.js';
import { envName, LIST_SEPARATOR, type OptionSpec, type RawOptions } from './options.js';

export function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const s of specs) {
    if (s.kind === 'bool') {
      cmd.addOption(new Option(`--${s.name}`, s.help));
      cmd.addOption(new Option(`--no-${s.name}`).hideHelp());
    } else if (s.kind === 'list') {
      cmd.addOption(
        new Option(`--${s.name} <${s.metavar ?? 'value'}>`, `${s.help}`).argParser((v: string, prev?: string) => (prev ? `${prev}${LIST_SEPARATOR}${v}` : v)),
      );
    } else {
      const o = new Option(
        `--${s.name} <${s.metavar ?? (s.choices ? s.choices.join('|') : 'value')}>`,
        s.help + (s.default !== undefined ? ` (default: ${String(s.default)})` : ''),
      );
      cmd.addOption(o);
    }
  }
  return cmd;
}

/** commander's values → raw strings keyed by kebab name, only what was typed. */
function typed(cmd: Command, specs: readonly OptionSpec[]): Record<string, string | undefined> {
  const opts = cmd.opts<Record<string, unknown>>();
  const out: Record<string, string | undefined> = {};
  for (const s of specs) {
    const key = s.name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    const v = opts[key];
    if (v !== undefined) out[s.name] = String(v);
  }
  return out;
}

export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

export const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env };

/**
 * Secrets typed on the command line (a password flag, a password in a URL) are
 * visible to every local user in `ps` and /proc/<pid>/cmdline: said once, with
 * where to put them instead.
 */
export function exposedSecrets(cli: Readonly<Record<string, string | undefined>>, specs: readonly OptionSpec[]): string[] {
  const out: string[] = [];
  // Where a secret option has a FILE sibling (`--ftp-password-file`), that is the first place to say.
  const fileFor = (name: string) => (specs.some((x) => x.name === `${name}-file`) ? `--${name}-file FILE or ` : '');
  for (const s of specs) {
    const v = cli[s.name];
    if (v === undefined) continue;
    if (s.secret) out.push(`--${s.name} is visible to other users in ps: use ${fileFor(s.name)}${envName(s.name)}`);
    else if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(v)) {
      // The URL's source may take its password from a flag of its own (FTP's --ftp-password).
      const scheme = v.slice(0, v.indexOf(':')).toLowerCase();
      const own = sources.find((b) => b.schemes.includes(scheme))?.options.find((o) => o.secret && fileFor(o.name));
      const instead = own ? `${fileFor(own.name)}${envName(own.name)}` : `${envName(s.name)} or a --config file`;
      out.push(`the password in --${s.name} is visible to other users in ps: use ${instead}`);
    }
  }
  return out;
}

/** The layers merged; with --print-config the effective config is printed (and then still validated). */
export function rawFrom(cmd: Command, specs: readonly OptionSpec[], io: CliIo): { raw: RawOptions; printed: boolean } {
  const cli = typed(cmd, specs);
  for (const w of exposedSecrets(cli, specs)) io.err(`model-monitor: warning: ${w}\n`);
  const raw = resolveRaw(cli, io.env, specs);
  const printed =
    readOptions(
      coreOptions.filter((s) => s.name === 'print-config'),
      raw,
    ).printConfig === true;
  if (printed) io.out(JSON.stringify(printableConfig(raw, specs), null, 2) + '\n');
  return { raw, printed };
}

/** `model-monitor --help | head -1`: the reader went away; stop writing, exit normally (no EPIPE trace). */
export function quietOnEpipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    stream.destroy(); // later writes go nowhere, quietly
  });
}

/** Stack traces only with --debug (or --log-level debug|trace), from the flags or the environment. */
function debugWanted(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const level =
    args.find((a) => /^--log[-_]level=/.test(a))?.split('=')[1] ??
    args[args.findIndex((a) => /^--log[-_]level$/.test(a)) + 1] ??
    env['MODEL_MONITOR_LOG_LEVEL'];
  const fromEnv = /^(true|1|yes|on)$/i.test(env['MODEL_MONITOR_DEBUG']?.trim() ?? ''); // parseBool's rule, without throwing
  return args.includes('--debug') || fromEnv || level === 'debug' || level === 'trace';
}

export function reportError(err: unknown, io: CliIo, ctx: { args: readonly string[]; specs: readonly OptionSpec[] }): number {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    io.err(
      `model-monitor: ${String(e.message)
        .replace(/^error: /, '')
        .replace(/\s*\n\s*\((Did you mean .+\?)\)\s*$/, ' ($1)')}\n`,
    );
    return 2;
  }
  if (err instanceof ConfigError) {
    const prefix = `--${err.flag}: `;
    const msg =
      err.flag && err.message.startsWith(prefix) ? `${flagLabel(err.flag, ctx.args, io.env, ctx.specs)}: ${err.message.slice(prefix.length)}` : err.message;
    io.err(`model-monitor: ${msg}\n`);
    return 2;
  }
  if (err instanceof LockedError) {
    io.err(`model-monitor: ${err.message}\n`);
    return 2;
  }
  if (err instanceof MonitorError) {
    io.err(`model-monitor: ${err.message}\n`);
    return 1;
  }
  // Not ours (a bug, or an fs error nothing mapped): one line; the stack only with --debug.
  const detail = debugWanted(ctx.args, io.env)
    ? ((err as Error)?.stack ?? String(err))
    : `${(err as Error)?.message ?? String(err)} (run with --debug for the stack trace)`;
  io.err(`model-monitor: internal error: ${detail}\n`);
  return 1;
}
