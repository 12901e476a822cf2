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
export function createTriggers(c: CoreValues): ReloadTrigger[] {
  const out: ReloadTrigger[] = [];
  if (c.timestampFile) out.push(createTouchTrigger({ file: c.timestampFile, inModel: true }));
  for (const t of c.touch) out.push(createTouchTrigger({ file: t, inModel: false }));
  if (c.exec) out.push(createExecTrigger({ command: c.exec, timeoutMs: c.execTimeoutMs }));
  if (c.signal) out.push(createSignalTrigger({ signal: c.signal, pidfile: c.pidfile, pid: c.pid }));
  if (c.httpPost) out.push(createHttpTrigger({ url: c.httpPost, timeoutMs: c.execTimeoutMs }));
  return out;
}
