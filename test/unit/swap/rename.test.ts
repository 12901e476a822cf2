import { existsSync } from 'node:fs';
import { vi } from 'vitest';
import { createRenameSwap } from '../../../src/swap/rename.js';
import { runSwapSuite, type CrashControl } from '../../conformance/swap.suite.js';

const crash = vi.hoisted((): CrashControl => ({ crashAfter: null, mutations: 0, crashed: false }));
vi.mock('node:fs/promises', async (orig) => (await import('../../conformance/swap.suite.js')).crashableFs(await orig(), crash));

runSwapSuite('rename', createRenameSwap, {
  crash,
  engineDir: async (l) => (existsSync(l.servedPath) ? l.servedPath : null),
  seedForeign: (l, make) => make(l.servedPath, 'v0'),
  // rename's two renames leave nothing at the served path between them; recover() completes the swap.
  mayGap: true,
});
