/**
 * The commander program only: the command table, flags from the option
 * specs, the config built from them, the command run (monitor-run.ts, the
 * local commands, preheat, the demo), errors mapped to exit codes (0 ok / 1
 * sync failed / 2 bad input).
 */
import { Command } from 'commander';
import { runAccept } from './accept.js';
import { checkFlags } from './argv.js';
import { addOptions, defaultIo, quietOnEpipe, rawFrom, reportError, type CliIo } from './cli-support.js';
import { allOptions, buildConfig, buildLocalConfig, normalizeArgv, type Command as Cmd, type LocalCommand, type LocalConfig } from './config.js';
import { runKserve, runRollback, runSync, runWatch } from './monitor-run.js';
import type { OptionSpec, RawOptions } from './options.js';
import { checkPreheat, preheatOptions, runPreheat } from './preheat-cli.js';
import { publishFlags } from './publish/options.js';
import { printStatus } from './status.js';
import { parseValues } from './values.js';

export type { CliIo } from './cli-support.js';

const VERSION = '0.1.0';

type Action = (raw: RawOptions, args: readonly string[]) => Promise<number>;

/** One table: name, description, positional arguments, what it runs, the flags only it takes. */
function commandTable(io: CliIo): [Cmd, string, string[], Action, (readonly OptionSpec[])?][] {
  const local =
    (name: LocalCommand, f: (c: LocalConfig) => Promise<number>): Action =>
    (raw) =>
      f(buildLocalConfig(name, raw));
  return [
    ['watch', 'poll forever; sync on every donefile change (the default)', [], (raw) => runWatch(buildConfig('watch', raw))],
    ['sync', 'one cycle: pull if the donefile differs from what is served, then exit (0 current, 1 failed)', [], (raw) => runSync(buildConfig('sync', raw))],
    ['rollback', 'swap the newest backup back in and fire the reload triggers (local flags only)', [], local('rollback', runRollback)],
    ['status', 'what is served, from which donefile, when, backups kept (--json; local flags only)', [], local('status', (c) => printStatus(c, io.out))],
    [
      'accept',
      'clear the rejection left by rollback or --validate, so the next cycle pulls that donefile (local flags only)',
      [],
      local('accept', (c) => runAccept(c, io.out)),
    ],
    [
      'kserve-init',
      'KServe storage initializer: pull the model at URI (no donefile) into DEST; exit 0 only when complete',
      ['<uri>', '<dest>', '[more...]'],
      runKserve,
    ],
    [
      'publish',
      'producer side: upload PATH (a model dir, or one file) as --remote_model_name, the donefile last; --preheat-url then warms a cache tier (0 published, 1 failed, 2 bad input)',
      ['<path>'],
      async (raw, [local]) => (await import('./publish/command.js')).runPublish(local!, raw, io),
      publishFlags,
    ],
    [
      'preheat',
      'ask a cache tier (a proxy URL) or a Dragonfly manager to warm a new version before the replicas poll: the file URLs given, or the files of --remote as replicas request them',
      ['[urls...]'],
      (raw, urls) => runPreheat(raw, urls, io),
      preheatOptions,
    ],
    ['demo', 'embedded FTP server + a producer + watch, in a temp dir', [], async () => (await import('./demo.js')).runDemo(io)],
  ];
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  if (io === defaultIo) {
    quietOnEpipe(process.stdout);
    quietOnEpipe(process.stderr);
  }
  const specs = allOptions();
  const args = argv.slice(2);
  let result = 0;
  const program = new Command('model-monitor')
    .description('Keep a served model in step with a remote store: detect, pull, verify, swap atomically, reload.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      "\nEvery command but demo takes the same flags (publish and preheat a few more): see 'model-monitor sync --help'.\nPaddle Serving's spellings work too (--ftp_ip, --local_tmp_dir, --local_donefile_name).",
    );
  const table = commandTable(io);
  const everyFlag = [...specs, ...table.flatMap((t) => t[4] ?? [])];
  for (const [name, desc, positional, action, own = []] of table) {
    const cmd = program
      .command(name, { isDefault: name === 'watch' })
      .description(desc)
      .allowExcessArguments(false);
    for (const p of positional) cmd.argument(p);
    const flags = [...specs, ...own];
    if (name !== 'demo') addOptions(cmd, flags);
    cmd.action(async () => {
      if (name === 'demo') {
        result = await action({}, []);
        return;
      }
      const { raw, printed } = rawFrom(cmd, flags, io);
      if (printed) await validateOnly(name, raw);
      result = printed ? 0 : await action(raw, cmd.args);
    });
  }
  try {
    checkFlags(args, everyFlag);
    await program.parseAsync(normalizeArgv(args, everyFlag), { from: 'user' });
    return result;
  } catch (err) {
    return reportError(err, io, { args, specs: everyFlag });
  }
}

/** --print-config still checks the config (exit 2 on bad input), without running anything. */
async function validateOnly(name: Cmd, raw: RawOptions): Promise<void> {
  if (name === 'watch' || name === 'sync') buildConfig(name, raw);
  else if (name === 'rollback' || name === 'status' || name === 'accept') buildLocalConfig(name, raw);
  else if (name === 'preheat') checkPreheat(raw);
  else if (name === 'publish') (await import('./publish/command.js')).checkPublish(raw);
  else parseValues(raw);
}
