/**
 * The one behaviour suite every SwapStrategy runs (rclone's fstests, for the
 * swap): swap, current(), backups pruned to keepBackups, rollback, and
 * recover() after a simulated kill -9 after every single filesystem step.
 *
 * A crash is simulated by the test file's `vi.mock('node:fs/promises')` with
 * crashableFs(): after `crashAfter` mutating calls (rename, writeFile, rm,
 * mkdir, symlink …) every further fs call throws, so nothing after that point
 * reaches the disk, exactly as if the process died there (the page cache
 * survives a kill -9, so completed calls stay done). A new strategy instance
 * (a new process) then runs recover(). The suite itself uses `node:fs`, never
 * the mocked module.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NoBackupError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { brandVerified, type ServedRecord, type Verified } from '../../src/model.js';
import type { SwapLayout, SwapStrategy } from '../../src/swap/types.js';

export interface CrashControl {
  /** Mutating fs calls allowed before the simulated kill; null = no crash. */
  crashAfter: number | null;
  /** Mutating calls seen since the last reset. */
  mutations: number;
  crashed: boolean;
  /** The mutating call with this index fails once with an I/O error (EXDEV, EBUSY, ENOSPC …); null = none. */
  failAt?: number | null;
}

export class SimulatedCrash extends Error {}

const MUTATING = new Set([
  'writeFile',
  'appendFile',
  'rename',
  'rm',
  'rmdir',
  'unlink',
  'mkdir',
  'mkdtemp',
  'symlink',
  'link',
  'copyFile',
  'cp',
  'utimes',
  'truncate',
  'chmod',
]);

/** Wraps node:fs/promises for vi.mock: counts mutations, and "kills the process" after `crashAfter` of them. */
export function crashableFs<T extends Record<string, unknown>>(orig: T, c: CrashControl): T {
  const out: Record<string, unknown> = { ...orig };
  for (const [k, v] of Object.entries(orig)) {
    if (typeof v !== 'function' || k === 'default') continue;
    out[k] = (...args: unknown[]) => {
      if (c.crashed) return Promise.reject(new SimulatedCrash(`process is dead (${k})`));
      if (MUTATING.has(k)) {
        if (c.crashAfter !== null && c.mutations >= c.crashAfter) {
          c.crashed = true;
          return Promise.reject(new SimulatedCrash(`kill -9 before ${k}`));
        }
        if (c.failAt !== undefined && c.failAt !== null && c.mutations === c.failAt) {
          c.failAt = null;
          c.mutations++;
          return Promise.reject(Object.assign(new Error(`injected EXDEV in ${k}`), { code: 'EXDEV' }));
        }
        c.mutations++;
      }
      return (v as (...a: unknown[]) => unknown)(...args);
    };
  }
  out['default'] = out;
  return out as T;
}

export interface SwapSuiteOptions {
  /** The control object shared with the test file's vi.mock. */
  readonly crash: CrashControl;
  /** The model dir the engine reads right now (following links; the highest version dir), or null. */
  engineDir(l: SwapLayout): Promise<string | null>;
  /** Puts a model this monitor did not make where the engine reads it (the user's initial model). */
  seedForeign(l: SwapLayout, make: (dir: string, v: string) => Promise<void>): Promise<void>;
  /** Nothing at the served path is acceptable at some crash points (rename's window between its two renames). */
  readonly mayGap?: boolean;
}

type Make = (l: SwapLayout) => SwapStrategy;
const ctx = () => ({ log: silentLogger(), signal: new AbortController().signal });

/** A model: VERSION, a few files of version-dependent sizes, and manifest.json naming them all. */
export async function writeModel(dir: string, v: string): Promise<void> {
  const files: Record<string, number> = { VERSION: Buffer.byteLength(v), 'weights/a.bin': 1000 + v.length * 7, 'weights/b.bin': 5000 + v.length };
  await fsp.mkdir(path.join(dir, 'weights'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'VERSION'), v);
  for (const f of ['weights/a.bin', 'weights/b.bin']) await fsp.writeFile(path.join(dir, f), Buffer.alloc(files[f]!, 1));
  await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(files));
}

/** The version label of a complete model at `dir`, or throws naming what is missing. */
export async function readModel(dir: string): Promise<string> {
  const files = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, number>;
  for (const [f, size] of Object.entries(files)) {
    const s = await fsp.stat(path.join(dir, f));
    if (s.size !== size) throw new Error(`${dir}/${f}: ${s.size} bytes, expected ${size}`);
  }
  return fsp.readFile(path.join(dir, 'VERSION'), 'utf8');
}

/** A one-file model `v` written into staging, verified, with its record. */
export async function staged(l: SwapLayout, v: string): Promise<{ model: Verified; record: ServedRecord }> {
  const dir = path.join(l.workDir, 'model.staging', `sync-${v}`, 'model');
  await writeModel(dir, v);
  const files = [{ path: 'VERSION', size: Buffer.byteLength(v) }];
  const aspired = { version: v, fingerprint: `fp-${v}`, remoteModel: 'model' };
  const record = { version: v, fingerprint: `fp-${v}`, remote: 'test', appliedAt: new Date().toISOString(), files };
  return { model: brandVerified({ dir, aspired, files }), record };
}

/** Stages model `v` and swaps it in with `s`. */
export async function swapIn(s: SwapStrategy, l: SwapLayout, v: string) {
  const { model, record } = await staged(l, v);
  return s.swap(model, record, ctx());
}

/**
 * A SwapLayout under a new temp dir (pushed onto `roots` for the caller to remove), with its own discarder.
 * (The discarder is imported here, not at the top: the test files' vi.mock of node:fs/promises loads
 * this module, so a top-level import of anything that imports node:fs/promises would wait on itself.)
 */
export async function tempLayout(prefix: string, roots: string[], keepBackups = 2): Promise<SwapLayout> {
  const root = await fsp.mkdtemp(path.join(tmpdir(), prefix));
  roots.push(root);
  const local = path.join(root, 'local');
  await fsp.mkdir(local);
  const { Discarder } = await import('../../src/swap/discard.js');
  return {
    servedPath: path.join(local, 'model'),
    workDir: path.join(local, '_serving_monitor_tmp'),
    name: 'model',
    keepBackups,
    fsync: false,
    discarder: new Discarder(),
  };
}

export function runSwapSuite(name: string, make: Make, o: SwapSuiteOptions): void {
  const roots: string[] = [];
  afterEach(async () => {
    Object.assign(o.crash, { crashAfter: null, crashed: false, mutations: 0, failAt: null });
    await Promise.all(roots.splice(0).map((r) => fsp.rm(r, { recursive: true, force: true })));
  });

  const layout = (keepBackups = 2) => tempLayout(`mm-swap-${name}-`, roots, keepBackups);

  async function engine(l: SwapLayout): Promise<string | null> {
    const d = await o.engineDir(l);
    return d === null ? null : readModel(d);
  }

  /** Model copies anywhere under the local dir (outside staging), not following links. */
  async function copies(l: SwapLayout): Promise<number> {
    // Pruned backups are deleted in the background: count once those deletions are done.
    await l.discarder.settle();
    return countCopies(path.dirname(l.servedPath));
  }

  async function countCopies(dir: string): Promise<number> {
    let n = 0;
    for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
      if (d.isDirectory() && !d.name.endsWith('.staging')) n += await countCopies(path.join(dir, d.name));
      else if (d.isFile() && d.name === 'manifest.json') n++;
    }
    return n;
  }

  describe(`swap strategy: ${name}`, () => {
    it('starts empty: nothing current, no backups, recover is clean, rollback has nothing', async () => {
      const l = await layout();
      const s = make(l);
      expect(await s.current()).toBeNull();
      expect(await s.backups()).toEqual([]);
      expect(await s.recover(ctx())).toBe('clean');
      await expect(s.rollback(ctx())).rejects.toBeInstanceOf(NoBackupError);
    });

    it('swap puts the model in; current() reads it back from disk; the old one becomes a backup', async () => {
      const l = await layout();
      const s = make(l);
      const r1 = await swapIn(s, l, 'v1');
      expect(r1.version).toBe('v1');
      expect(r1.backupPath).toBeNull();
      expect(await readModel(r1.modelDir)).toBe('v1');
      expect(await engine(l)).toBe('v1');
      expect(existsSync(path.join(l.workDir, 'model.staging', 'sync-v1', 'model'))).toBe(false);
      const r2 = await swapIn(s, l, 'v2');
      expect(await engine(l)).toBe('v2');
      expect(await readModel(r2.backupPath!)).toBe('v1');
      const again = make(l); // a new process derives the same state
      expect((await again.current())?.version).toBe('v2');
      expect((await again.current())?.record.fingerprint).toBe('fp-v2');
      expect((await again.backups()).map((b) => b.version)).toEqual(['v1']);
    });

    for (const keep of [0, 1, 2]) {
      it(`prunes backups to keepBackups=${keep}, on disk too`, async () => {
        const l = await layout(keep);
        const s = make(l);
        for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await swapIn(s, l, v);
        expect(await engine(l)).toBe('v5');
        expect((await s.backups()).map((b) => b.version)).toEqual(['v4', 'v3', 'v2'].slice(0, keep));
        expect(await copies(l)).toBe(keep + 1);
      });
    }

    it('rollback puts the newest backup back, until there is none; a swap after it works', async () => {
      const l = await layout();
      const s = make(l);
      for (const v of ['v1', 'v2', 'v3']) await swapIn(s, l, v);
      const r = await s.rollback(ctx());
      expect(r.version).toBe('v2');
      expect(await readModel(r.modelDir)).toBe('v2');
      expect(await engine(l)).toBe('v2');
      expect((await s.current())?.version).toBe('v2');
      expect((await s.backups()).map((b) => b.version)).toEqual(['v1']);
      expect((await s.rollback(ctx())).version).toBe('v1');
      expect(await engine(l)).toBe('v1');
      await expect(s.rollback(ctx())).rejects.toBeInstanceOf(NoBackupError);
      await swapIn(s, l, 'v4');
      expect(await engine(l)).toBe('v4');
      expect((await s.backups()).map((b) => b.version)).toEqual(['v1']);
    });

    it('takes over a model it did not make: it becomes a backup', async () => {
      const l = await layout();
      await o.seedForeign(l, writeModel);
      const s = make(l);
      expect(await engine(l)).toBe('v0');
      await swapIn(s, l, 'v1');
      expect(await engine(l)).toBe('v1');
      expect((await s.rollback(ctx())).modelDir).toBeTruthy();
      expect(await engine(l)).toBe('v0');
    });

    crashScenarios(o, make, layout, swapIn, engine, copies);
  });
}

/** A model the monitor did not make (v0) has no record: current() says null or "initial" for it. */
function sameModel(seen: string | null, version: string | null): boolean {
  return seen === version || (seen === 'v0' && (version === null || version === 'initial'));
}

interface Scenario {
  readonly what: string;
  setup(s: SwapStrategy, l: SwapLayout): Promise<void>;
  op(s: SwapStrategy, l: SwapLayout): Promise<unknown>;
  readonly before: string | null;
  readonly after: string;
  /** A rollback: once journalled, recover() may finish it (both sides are whole models). */
  readonly rollback?: boolean;
}

function crashScenarios(
  o: SwapSuiteOptions,
  make: Make,
  layout: (keep?: number) => Promise<SwapLayout>,
  swapIn: (s: SwapStrategy, l: SwapLayout, v: string) => Promise<unknown>,
  engine: (l: SwapLayout) => Promise<string | null>,
  copies: (l: SwapLayout) => Promise<number>,
): void {
  const scenarios: Scenario[] = [
    { what: 'the first swap', setup: async () => {}, op: (s, l) => swapIn(s, l, 'v1'), before: null, after: 'v1' },
    {
      what: 'a swap that prunes',
      setup: async (s, l) => {
        for (const v of ['v1', 'v2', 'v3']) await swapIn(s, l, v);
      },
      op: (s, l) => swapIn(s, l, 'v4'),
      before: 'v3',
      after: 'v4',
    },
    {
      what: 'a swap over a model it did not make',
      setup: (_s, l) => o.seedForeign(l, writeModel),
      op: (s, l) => swapIn(s, l, 'v1'),
      before: 'v0',
      after: 'v1',
    },
    {
      what: 'a rollback',
      setup: async (s, l) => {
        for (const v of ['v1', 'v2', 'v3']) await swapIn(s, l, v);
      },
      op: (s) => s.rollback(ctx()),
      before: 'v3',
      after: 'v2',
      rollback: true,
    },
  ];
  for (const sc of scenarios) {
    /** How many mutating fs calls the scenario's operation makes (a dry run). */
    const countSteps = async (): Promise<number> => {
      const dry = await layout();
      await sc.setup(make(dry), dry);
      o.crash.mutations = 0;
      await sc.op(make(dry), dry);
      return o.crash.mutations;
    };

    it(`recover() after a kill -9 at every step of ${sc.what}`, async () => {
      const c = o.crash;
      const steps = await countSteps();
      expect(steps).toBeGreaterThan(1);
      for (let k = 0; k < steps; k++) {
        const where = `${sc.what}, killed after step ${k} of ${steps}`;
        const l = await layout();
        await sc.setup(make(l), l);
        Object.assign(c, { crashAfter: k, mutations: 0, crashed: false });
        await sc.op(make(l), l).catch((err: unknown) => {
          if (!(err instanceof SimulatedCrash)) throw err;
        });
        expect(c.crashed, where).toBe(true);
        Object.assign(c, { crashAfter: null, crashed: false });
        // What the engine sees in the instant after the kill: the old or the new complete model.
        const seen = await engine(l);
        expect([sc.before, sc.after, ...(o.mayGap ? [null] : [])], where).toContain(seen);
        const s = make(l); // the restarted process
        const outcome = await s.recover(ctx());
        expect(['clean', 'completed', 'undone'], where).toContain(outcome);
        const now = await engine(l);
        expect(outcome === 'completed' ? [sc.after] : outcome === 'undone' ? [sc.before] : [sc.before, sc.after], where).toContain(now);
        expect(sameModel(now, (await s.current())?.version ?? null), `${where}: current() agrees with the engine (${now})`).toBe(true);
        expect(await s.recover(ctx()), `${where}: recover is idempotent`).toBe('clean');
        await swapIn(s, l, 'v9');
        expect(await engine(l), where).toBe('v9');
        expect(await copies(l), `${where}: copies after the next swap`).toBeLessThanOrEqual(l.keepBackups + 1);
        const beside = await fsp.readdir(path.dirname(l.servedPath));
        expect(beside.sort(), `${where}: nothing stray beside the served path`).toEqual(['_serving_monitor_tmp', 'model']);
        const [newest] = await s.backups();
        if (newest) {
          await s.rollback(ctx());
          expect(sameModel(await engine(l), newest.version), `${where}: rollback after recovery`).toBe(true);
        }
      }
    }, 180_000);

    it(`a failed step anywhere in ${sc.what}, its staging then deleted: nothing served changes, current() agrees, a restart finishes nothing`, async () => {
      const c = o.crash;
      const steps = await countSteps();
      for (let k = 0; k < steps; k++) {
        const where = `${sc.what}, step ${k} of ${steps} failed`;
        const l = await layout();
        await sc.setup(make(l), l);
        Object.assign(c, { crashAfter: null, mutations: 0, crashed: false, failAt: k });
        const failed = await sc.op(make(l), l).then(
          () => false,
          () => true,
        );
        c.failAt = null;
        // The cycle deletes staging after a failed swap (kill -9 safety never relies on it being there).
        await fsp.rm(path.join(l.workDir, 'model.staging'), { recursive: true, force: true });
        // A step that failed past the commit point leaves the new model served (and may leave it unrecorded: current()
        // then claims nothing, and the next cycle pulls again); before it, the old one. Never anything else.
        const seen = await engine(l);
        expect(failed ? [sc.before, sc.after] : [sc.after], `${where}: ${failed ? 'failed' : 'went through'}`).toContain(seen);
        const claimed = (await make(l).current())?.version ?? null;
        expect(claimed === null || sameModel(seen, claimed), `${where}: current() says ${claimed}, the engine reads ${seen}`).toBe(true);
        const s = make(l); // a restart
        await s.recover(ctx());
        const now = await engine(l);
        // A swap whose staging is gone is never finished by a restart; a journalled rollback may be (both sides are whole).
        expect(sc.rollback ? [sc.before, sc.after] : [seen], `${where}: after recover`).toContain(now);
        expect(sameModel(now, (await s.current())?.version ?? null), `${where}: current() after recover (engine ${now})`).toBe(true);
        await swapIn(s, l, 'v9');
        expect(await engine(l), where).toBe('v9');
      }
    }, 180_000);
  }
}
