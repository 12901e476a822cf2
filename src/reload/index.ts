import path from 'node:path';
import type { CoreValues } from '../values.js';
import { createExecTrigger } from './exec.js';
import { createHttpTrigger } from './http.js';
import { createSignalTrigger } from './signal.js';
import { createTouchTrigger } from './touch.js';
import type { ReloadTrigger } from './types.js';

/**
 * The reload triggers a config asks for, in the order they fire: the Paddle
 * timestamp file first (inside the model), then --touch files, --exec,
 * --signal, --http-post. Each has its own deadline (`--exec-timeout`).
 * Throws ConfigError for a signal name the OS does not know.
 */
export function createTriggers(c: CoreValues & { readonly workDir?: string; readonly modelName?: string }): ReloadTrigger[] {
  const out: ReloadTrigger[] = [];
  // The last second stamped is mirrored beside the model, so it survives the previous model's removal
  // (--keep-backups 0) and a rollback to an older copy.
  const memo = c.workDir && c.modelName ? path.join(c.workDir, `${c.modelName}.timestamp`) : undefined;
  if (c.timestampFile) out.push(createTouchTrigger({ file: c.timestampFile, inModel: true, ...(memo ? { memo } : {}) }));
  for (const t of c.touch) out.push(createTouchTrigger({ file: t, inModel: false }));
  if (c.exec) out.push(createExecTrigger({ command: c.exec, timeoutMs: c.execTimeoutMs }));
  if (c.signal) out.push(createSignalTrigger({ signal: c.signal, pidfile: c.pidfile, pid: c.pid }));
  if (c.httpPost) out.push(createHttpTrigger({ url: c.httpPost, timeoutMs: c.execTimeoutMs }));
  return out;
}
