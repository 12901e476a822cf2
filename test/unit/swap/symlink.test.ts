import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { createRenameSwap } from '../../../src/swap/rename.js';
import { createSymlinkSwap, symlinkPaths } from '../../../src/swap/symlink.js';
import { type CrashControl, readModel, runSwapSuite, swapIn, tempLayout, writeModel } from '../../conformance/swap.suite.js';

const crash = vi.hoisted((): CrashControl => ({ crashAfter: null, mutations: 0, crashed: false }));
vi.mock('node:fs/promises', async (orig) => (await import('../../conformance/swap.suite.js')).crashableFs(await orig(), crash));

runSwapSuite('symlink', createSymlinkSwap, {
  crash,
  engineDir: async (l) => (existsSync(l.servedPath) ? l.servedPath : null),
  seedForeign: (l, make) => make(l.servedPath, 'v0'),
  // Only the swap that converts a real directory has a gap (between two back-to-back renames).
  mayGap: true,
});

const ctx = () => ({ log: silentLogger(), signal: new AbortController().signal });
const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((r) => fsp.rm(r, { recursive: true, force: true })));
});

const layout = () => tempLayout('mm-symlink-', roots);

describe('symlink swap specifics', () => {
  it('the served path is a relative link into <workDir>/<name>.versions', async () => {
    const l = await layout();
    const s = createSymlinkSwap(l);
    await swapIn(s, l, 'v1');
    await swapIn(s, l, 'v2');
    const target = await fsp.readlink(l.servedPath);
    expect(path.isAbsolute(target)).toBe(false);
    expect(target).toBe(path.join('_serving_monitor_tmp', 'model.versions', '2'));
    // The whole tree can move (a container volume mounted elsewhere) and the link still resolves.
    const moved = `${path.dirname(l.servedPath)}-moved`;
    roots.push(moved);
    await fsp.rename(path.dirname(l.servedPath), moved);
    expect(await readModel(path.join(moved, 'model'))).toBe('v2');
  });

  it('converts a directory left by --swap rename, keeping its record as the backup', async () => {
    const l = await layout();
    await swapIn(createRenameSwap(l), l, 'r1');
    const s = createSymlinkSwap(l);
    expect((await s.current())?.version).toBe('r1');
    await swapIn(s, l, 's1');
    expect((await fsp.lstat(l.servedPath)).isSymbolicLink()).toBe(true);
    expect((await s.backups()).map((b) => b.version)).toEqual(['r1']);
    expect(existsSync(path.join(l.workDir, 'model.served.json'))).toBe(false);
    expect((await s.rollback(ctx())).version).toBe('r1');
    expect(await readModel(l.servedPath)).toBe('r1');
  });

  it('replaces a link it did not make, leaving its target alone', async () => {
    const l = await layout();
    const elsewhere = path.join(path.dirname(l.servedPath), 'elsewhere');
    await writeModel(elsewhere, 'x');
    await fsp.symlink('elsewhere', l.servedPath);
    const s = createSymlinkSwap(l);
    expect(await s.current()).toBeNull();
    await swapIn(s, l, 'v1');
    expect(await readModel(l.servedPath)).toBe('v1');
    expect(await readModel(elsewhere)).toBe('x');
  });

  it('recover() removes a stray tmp link left beside the served path', async () => {
    const l = await layout();
    const s = createSymlinkSwap(l);
    await swapIn(s, l, 'v1');
    await fsp.symlink('nowhere', symlinkPaths(l).tmpLink);
    expect(await createSymlinkSwap(l).recover(ctx())).toBe('clean');
    expect(existsSync(symlinkPaths(l).tmpLink)).toBe(false);
    expect(await readModel(l.servedPath)).toBe('v1');
  });
});
