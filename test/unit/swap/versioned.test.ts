import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import type { SwapLayout } from '../../../src/swap/types.js';
import { createVersionedSwap } from '../../../src/swap/versioned.js';
import { type CrashControl, readModel, runSwapSuite, swapIn, tempLayout } from '../../conformance/swap.suite.js';

const crash = vi.hoisted((): CrashControl => ({ crashAfter: null, mutations: 0, crashed: false }));
vi.mock('node:fs/promises', async (orig) => (await import('../../conformance/swap.suite.js')).crashableFs(await orig(), crash));

/** What TF Serving's latest policy serves: the highest numeric dir. */
async function highest(l: SwapLayout): Promise<string | null> {
  const ns = await versionNumbers(l);
  return ns.length ? path.join(l.servedPath, String(ns[0])) : null;
}

async function versionNumbers(l: SwapLayout): Promise<number[]> {
  const names = await fsp.readdir(l.servedPath).catch(() => [] as string[]);
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => b - a);
}

runSwapSuite('versioned', createVersionedSwap, {
  crash,
  engineDir: highest,
  seedForeign: (l, make) => make(path.join(l.servedPath, '1'), 'v0'),
});

const ctx = () => ({ log: silentLogger(), signal: new AbortController().signal });
const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((r) => fsp.rm(r, { recursive: true, force: true })));
});

const layout = (keepBackups = 2) => tempLayout('mm-versioned-', roots, keepBackups);

describe('versioned swap specifics', () => {
  it('adds NAME/<n+1>/ and returns it as servedPath; the previous version dir is the backup path', async () => {
    const l = await layout();
    const s = createVersionedSwap(l);
    const r1 = await swapIn(s, l, 'v1');
    const r2 = await swapIn(s, l, 'v2');
    expect(r1.modelDir).toBe(path.join(l.servedPath, '1'));
    expect(r2.modelDir).toBe(path.join(l.servedPath, '2'));
    expect(r2.backupPath).toBe(r1.modelDir);
    expect((await s.current())?.modelDir).toBe(r2.modelDir);
  });

  it('never reuses a version number after a rollback removed it', async () => {
    const l = await layout();
    const s = createVersionedSwap(l);
    for (const v of ['v1', 'v2', 'v3']) await swapIn(s, l, v);
    await s.rollback(ctx());
    expect(await versionNumbers(l)).toEqual([2, 1]);
    const r = await swapIn(createVersionedSwap(l), l, 'v4');
    expect(r.modelDir).toBe(path.join(l.servedPath, '4'));
    expect(await versionNumbers(l)).toEqual([4, 2, 1]);
  });

  it('leaves what is not a version dir alone (Triton config.pbtxt)', async () => {
    const l = await layout(0);
    await fsp.mkdir(l.servedPath, { recursive: true });
    await fsp.writeFile(path.join(l.servedPath, 'config.pbtxt'), 'name: "model"\n');
    const s = createVersionedSwap(l);
    for (const v of ['v1', 'v2', 'v3']) await swapIn(s, l, v);
    expect((await fsp.readdir(l.servedPath)).sort()).toEqual(['3', 'config.pbtxt']);
    expect(await readModel(path.join(l.servedPath, '3'))).toBe('v3');
  });
});
