/**
 * Chunk-level deltas when things go wrong or differ (file://; the data path
 * is the same on every store, delta.test.ts runs each): kill -9 in the middle
 * of a delta pull, then a resume; a served file altered on disk; a version
 * published without chunk indexes; a served index the work dir lost; every
 * --swap mode with --concurrency and --bwlimit.
 */
import { open, readdir, rm, stat, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MiB, pseudoRandom } from '../helpers/bytes.js';
import { run, start, updated, type LogLine } from '../helpers/cli.js';
import { deltaVersions, E2E_DELTA, servedFile, writeModel } from '../helpers/delta.js';
import { startTarget, type Target } from '../helpers/targets.js';

const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const V = deltaVersions(E2E_DELTA.size, E2E_DELTA);
const WORK = '_serving_monitor_tmp';
const isDelta = (l: LogLine) => l.event === 'delta';

let dir: string;
let t: Target;
let model: string;
let local: string;
beforeAll(async () => {
  t = await startTarget('file');
}, 60_000);
afterAll(async () => t?.close());
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-delta-f-'));
  model = path.join(dir, 'model');
  local = path.join(dir, 'local');
  await rm(t.disk!, { recursive: true, force: true });
  return () => rm(dir, { recursive: true, force: true });
});

async function publish(data: Buffer, extra: readonly string[] = []): Promise<void> {
  await writeModel(model, data);
  const r = await run(['publish', model, ...t.args, ...names, ...extra], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
}

const syncArgs = (extra: readonly string[] = []) => ['sync', ...t.args, ...names, '--local_path', local, ...extra];

async function sync(extra: readonly string[] = []) {
  const r = await run(syncArgs(extra), { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return { lines: r.lines, u: r.lines.find(updated)! };
}

/** The `.delta` file being built in staging, with its size, or null. */
async function building(): Promise<number> {
  const root = path.join(local, WORK, 'model.staging');
  for (const v of await readdir(root).catch(() => [] as string[])) {
    const parts = path.join(root, v, 'parts');
    for (const n of await readdir(parts).catch(() => [] as string[])) {
      if (n.endsWith('.delta')) return (await stat(path.join(parts, n)).catch(() => ({ size: 0 }))).size;
    }
  }
  return 0;
}

describe('delta pull: faults', () => {
  it('kill -9 in the middle of a delta pull: the served model is still v1, and the next sync builds v2', async () => {
    await publish(V.v1);
    await sync();
    await publish(V.v2);
    // --bwlimit: the 14 MiB the delta fetches take seconds, so the kill lands mid-file.
    const p = start(syncArgs(['--bwlimit', '2M']));
    const deadline = Date.now() + 60_000;
    while ((await building()) < 8 * MiB) {
      if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`the delta build never got going: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    p.child.kill('SIGKILL');
    await p.exited;
    expect((await servedFile(local, 'rename')).equals(V.v1)).toBe(true);
    const { lines } = await sync();
    expect(lines.some(isDelta)).toBe(true);
    expect((await servedFile(local, 'rename')).equals(V.v2)).toBe(true);
  }, 300_000);

  it('a served file altered on disk (same size): the altered chunks are fetched, the served file is v2', async () => {
    await publish(V.v1);
    await sync();
    const fh = await open(path.join(local, 'model', 'weights.bin'), 'r+');
    await fh.write(pseudoRandom(300 * 1024, 5), 0, 300 * 1024, 3 * MiB); // a region v2 keeps
    await fh.close();
    await publish(V.v2);
    const { lines } = await sync();
    const d = lines.find(isDelta)!;
    expect(d.refetchedBytes as number).toBeGreaterThanOrEqual(300 * 1024);
    expect((await servedFile(local, 'rename')).equals(V.v2)).toBe(true);
  }, 300_000);

  it('a version published without chunk indexes is pulled whole', async () => {
    await publish(V.v1);
    await sync();
    await publish(V.v2, ['--no-chunk-index']);
    const { lines, u } = await sync();
    expect(lines.some(isDelta)).toBe(false);
    expect(u.fetchedBytes).toBe(V.v2.length);
    expect(u.reusedBytes).toBe(0);
    expect((await servedFile(local, 'rename')).equals(V.v2)).toBe(true);
  }, 300_000);

  it('a served index the work dir lost (or a corrupt one) means a whole-file pull', async () => {
    await publish(V.v1);
    await sync();
    const store = path.join(local, WORK, 'model.chunk-indexes');
    for (const n of (await readdir(store)).filter((x) => x.endsWith('.cdx'))) await writeFile(path.join(store, n), 'not an index');
    await publish(V.v2);
    const { lines, u } = await sync();
    expect(lines.some(isDelta)).toBe(false);
    expect(u.fetchedBytes as number).toBeGreaterThanOrEqual(V.v2.length);
    expect((await servedFile(local, 'rename')).equals(V.v2)).toBe(true);
  }, 300_000);

  for (const swap of ['rename', 'symlink', 'versioned']) {
    it(`--swap ${swap} with --concurrency 4 and --bwlimit: three versions in a row, each built from the one served`, async () => {
      const flags = ['--swap', swap, '--concurrency', '4', '--bwlimit', '64M'];
      const v3 = Buffer.concat([V.v2.subarray(0, 10 * MiB), pseudoRandom(MiB, 77), V.v2.subarray(10 * MiB)]);
      await publish(V.v1);
      await sync(flags);
      for (const next of [V.v2, v3]) {
        await publish(next);
        const { lines, u } = await sync(flags);
        expect(lines.some(isDelta)).toBe(true);
        expect(u.reusedBytes as number).toBeGreaterThan(next.length / 2);
        expect((await servedFile(local, swap)).equals(next)).toBe(true);
      }
    }, 300_000);
  }
});
