/**
 * `model-monitor accept`: forgets the donefile that `rollback` (or a failed
 * --validate or reload) rejected, so the next `sync` or poll pulls it again.
 * Local flags only, and no lock: a running `watch` picks the change up on its
 * next poll (each cycle reads the status file afresh).
 */
import type { LocalConfig } from './config.js';
import { checkLocalDirs } from './local-dirs.js';
import { clearRejected } from './state.js';

export async function runAccept(c: LocalConfig, out: (s: string) => void): Promise<number> {
  await checkLocalDirs(c);
  const cleared = await clearRejected(c.workDir, c.modelName);
  if (!cleared) {
    out(`nothing to accept: no donefile is rejected for ${c.servedPath}\n`);
    return 0;
  }
  out(`accepted ${cleared.fingerprint} (rejected ${cleared.at}: ${cleared.reason}); the next sync or poll pulls it\n`);
  return 0;
}
