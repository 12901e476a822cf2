/**
 * e2e::versioned-scanner: model-monitor runs `watch --swap versioned` while a
 * scanner lists `NAME/` as TensorFlow Serving's file-system source does
 * (readdir, every numeric dir is a version) and checks every version dir it
 * sees is complete: each file the producer's manifest names, at its full size.
 * Over a dozen updates and thousands of scans it never sees an incomplete dir,
 * the highest version never goes down, and old versions are pruned.
 */
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { start, updated, type Running } from '../helpers/cli.js';
import { waitFor } from '../servers/ports.js';

const UPDATES = 12;
const KEEP = 2;

/** A model of a few MB: a half-copied one would be caught by the size check. */
async function publish(remote: string, k: number): Promise<void> {
  const model = path.join(remote, 'model');
  await fsp.rm(model, { recursive: true, force: true });
  await fsp.mkdir(path.join(model, 'variables'), { recursive: true });
  const files: Record<string, number> = {
    'saved_model.pb': 300_000 + k,
    'variables/variables.data-00000-of-00001': 2_000_000 + k * 13,
    'variables/variables.index': 5_000 + k,
  };
  for (const [f, size] of Object.entries(files)) await fsp.writeFile(path.join(model, f), Buffer.alloc(size, k));
  await fsp.writeFile(path.join(model, 'VERSION'), `v${k}`);
  await fsp.writeFile(path.join(model, 'manifest.json'), JSON.stringify({ version: `v${k}`, files: { ...files, VERSION: `v${k}`.length } }));
  const done = path.join(remote, 'donefile');
  // The donefile appears whole, with its final mtime, in one rename (a careful producer's way).
  await fsp.writeFile(`${done}.tmp`, `v${k}\n`);
  const t = Math.floor(Date.now() / 1000) - 10_000 + k * 10;
  await fsp.utimes(`${done}.tmp`, t, t);
  await fsp.rename(`${done}.tmp`, done);
}

const gone = async (p: string) =>
  !(await fsp.stat(p).then(
    () => true,
    () => false,
  ));

/** Null when the version dir is complete (or vanished whole between readdir and the check), else why not. */
async function incomplete(dir: string): Promise<string | null> {
  let manifest: { files: Record<string, number> };
  try {
    manifest = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    if (await gone(dir)) return null;
    return `manifest.json: ${(err as Error).message}`;
  }
  for (const [f, size] of Object.entries(manifest.files)) {
    const s = await fsp.stat(path.join(dir, f)).catch(() => null);
    if (s?.size === size) continue;
    if (await gone(dir)) return null;
    return `${f}: ${s ? `${s.size} bytes of ${size}` : 'missing'}`;
  }
  return null;
}

interface Scanner {
  passes: number;
  maxDirs: number;
  highest: number;
  readonly violations: string[];
  stop(): Promise<void>;
}

function startScanner(base: string): Scanner {
  let stopping = false;
  const sc: Scanner = { passes: 0, maxDirs: 0, highest: 0, violations: [], stop: async () => {} };
  const loop = async () => {
    while (!stopping) {
      const names = await fsp.readdir(base).catch(() => [] as string[]);
      const versions = names.filter((n) => /^\d+$/.test(n)).map(Number);
      sc.maxDirs = Math.max(sc.maxDirs, versions.length);
      const top = Math.max(0, ...versions);
      if (top < sc.highest) sc.violations.push(`highest version went down: ${sc.highest} → ${top}`);
      sc.highest = Math.max(sc.highest, top);
      for (const v of versions) {
        const why = await incomplete(path.join(base, String(v)));
        if (why) sc.violations.push(`${v}/: ${why}`);
      }
      sc.passes++;
      await new Promise((r) => setImmediate(r));
    }
  };
  const running = loop();
  sc.stop = async () => {
    stopping = true;
    await running;
  };
  return sc;
}

describe('e2e: a TF Serving-style scanner never sees an incomplete version dir', () => {
  let root = '';
  let monitor: Running | null = null;
  afterAll(async () => {
    await monitor?.stop();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  it(`${UPDATES} updates with --swap versioned --keep-backups ${KEEP}`, async () => {
    root = await fsp.mkdtemp(path.join(tmpdir(), 'mm-versioned-'));
    const remote = path.join(root, 'remote');
    const local = path.join(root, 'local');
    const base = path.join(local, 'model');
    await publish(remote, 1);
    monitor = start([
      'watch',
      '--remote',
      `file://${remote}`,
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_path',
      local,
      '--swap',
      'versioned',
      '--keep-backups',
      String(KEEP),
      '--interval',
      '0.1',
    ]);
    const scanner = startScanner(base);
    const t0 = Date.now();
    try {
      for (let k = 1; k <= UPDATES; k++) {
        if (k > 1) await publish(remote, k);
        await waitFor(() => monitor!.count(updated) >= k, `update ${k}`, 60_000);
        const top = Math.max(...(await fsp.readdir(base)).filter((n) => /^\d+$/.test(n)).map(Number));
        expect(top).toBe(k);
        expect(await fsp.readFile(path.join(base, String(top), 'VERSION'), 'utf8')).toBe(`v${k}`);
      }
      await waitFor(() => scanner.passes > 0, 'a scan after the last update');
    } finally {
      await scanner.stop();
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(
      `versioned-scanner: ${scanner.passes} scans in ${secs.toFixed(1)}s (${Math.round(scanner.passes / secs)}/s), ${UPDATES} updates, ${scanner.violations.length} violations, at most ${scanner.maxDirs} version dirs`,
    );
    expect(scanner.violations).toEqual([]);
    expect(scanner.passes).toBeGreaterThan(UPDATES * 10);
    expect(scanner.maxDirs).toBeLessThanOrEqual(KEEP + 2); // the new one is in before the oldest goes
    const left = (await fsp.readdir(base))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    expect(left).toEqual([UPDATES - 2, UPDATES - 1, UPDATES]);
    expect(monitor.count((l) => l.event === 'sync-failed')).toBe(0);
  }, 180_000);
});
