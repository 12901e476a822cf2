/** The commander wiring of `publish PATH`; the work is loaded only when the command runs. */
import type { Command } from 'commander';
import { addOptions, typed, type CliIo } from '../cli.js';
import { resolveRaw } from '../config.js';
import type { OptionSpec } from '../options.js';
import { publishOptions } from './options.js';

export function addPublishCommand(program: Command, specs: readonly OptionSpec[], io: CliIo, done: (code: number) => void): void {
  const all = [...specs, ...publishOptions];
  const cmd = program
    .command('publish')
    .description('upload PATH (a model dir, or one file) as --remote_model_name, the donefile last (0 published, 1 failed, 2 bad input)')
    .argument('<path>', 'the model directory, or a single file (a tar)')
    .allowExcessArguments(false);
  addOptions(cmd, all);
  cmd.action(async (local: string) => {
    const { runPublish } = await import('./command.js');
    done(await runPublish(local, resolveRaw(typed(cmd, all), io.env, all), io));
  });
}
