import { describe, expect, expectTypeOf, it } from 'vitest';
import { createSwap, swapStrategies } from '../../../src/swap/index.js';
import type { SwapLayout, SwapStrategy } from '../../../src/swap/types.js';
import type { CoreValues } from '../../../src/values.js';
import { Discarder } from '../../../src/swap/discard.js';

const l: SwapLayout = { servedPath: '/srv/model', workDir: '/srv/_tmp', name: 'model', keepBackups: 2, fsync: false, discarder: new Discarder() };

describe('swap strategy table', () => {
  it('has one entry per --swap choice, each naming itself', () => {
    expect(Object.keys(swapStrategies).sort()).toEqual(['rename', 'symlink', 'versioned']);
    for (const name of Object.keys(swapStrategies)) expect(createSwap(name, l).name).toBe(name);
    expectTypeOf<SwapStrategy['name']>().toEqualTypeOf<CoreValues['swap']>();
  });

  it('refuses a name it does not have', () => {
    expect(() => createSwap('copy', l)).toThrow(/not built in/);
  });
});
