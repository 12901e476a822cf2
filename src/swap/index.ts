import { createRenameSwap } from './rename.js';
import { createSymlinkSwap } from './symlink.js';
import type { SwapLayout, SwapStrategy } from './types.js';
import { createVersionedSwap } from './versioned.js';

/** The table of strategies: one line each. */
export const swapStrategies: Record<string, (l: SwapLayout) => SwapStrategy> = {
  rename: createRenameSwap,
  symlink: createSymlinkSwap,
  versioned: createVersionedSwap,
};

export function createSwap(name: string, l: SwapLayout): SwapStrategy {
  const make = swapStrategies[name];
  if (!make) throw new Error(`swap strategy ${name} is not built in`);
  return make(l);
}
