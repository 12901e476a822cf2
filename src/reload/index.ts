import type { CoreValues } from '../values.js';
import { createTouchTrigger } from './touch.js';
import type { ReloadTrigger } from './types.js';

/**
 * The reload triggers a config asks for, in the order they fire: the Paddle
 * timestamp file first (inside the model), then --touch files, --exec,
 * --signal, --http-post.
 */
export function createTriggers(c: CoreValues): ReloadTrigger[] {
  const out: ReloadTrigger[] = [];
  if (c.timestampFile) out.push(createTouchTrigger({ file: c.timestampFile, inModel: true }));
  for (const t of c.touch) out.push(createTouchTrigger({ file: t, inModel: false }));
  return out;
}
