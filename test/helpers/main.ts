/** The CLI's entry point run in this process: no child, no build needed; what it wrote and its exit code. */
import { main } from '../../src/cli.js';

export interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runMain(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  let out = '';
  let err = '';
  const code = await main(['node', 'model-monitor', ...args], { out: (s) => (out += s), err: (s) => (err += s), env });
  return { code, out, err };
}
