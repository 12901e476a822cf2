/**
 * `npm run bench`: model-monitor against the tools users would otherwise
 * script (lftp, rclone, aws s3 sync, curl, cp -r), same server, same data, same
 * run; plus swap latency, the --fsync figure, an md5-verified pull and one
 * --incremental update. Prints the tables and writes them to bench/RESULTS.md.
 * A vitest file only so it can reuse the TypeScript servers in test/servers;
 * run by bench/vitest.config.ts, never by `npm test`.
 *
 * Knobs: MM_BENCH_MIB (model size, default 1024), MM_BENCH_ROUNDS (max
 * repeats, default 3), MM_BENCH_BUDGET_S (whole run, default 1080),
 * MM_BENCH_ONLY=webhdfs (protocols whose name contains it), MM_BENCH_NO_WRITE=1
 * (print only), MM_BENCH_SCALE (the large-model pull: its size over the bench
 * model's, default 4; 0 skips it).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { buildDataset, manifestOf, replaceFile, writeDonefile, type Dataset } from './data.js';
import { BIN, fixedCost, median, mmSync, pullOnce, ROOT, runMatrix, updatedEvent, type FixedCost, type Row } from './matrix.js';
import { protocols, type Protocol, type Target } from './peers.js';
import { measure, runOrThrow, syncDisks } from './proc.js';
import { mainTable, renderBench, writeSection, type BenchResult, type Extras } from './report.js';
import { measureSwaps, tinyModel, type SwapFigures } from './swap.js';

const envNum = (k: string, d: number) => (Number.isFinite(Number(process.env[k])) && process.env[k] ? Number(process.env[k]) : d);
const BUDGET_MS = envNum('MM_BENCH_BUDGET_S', 1080) * 1000;
const ROUNDS = envNum('MM_BENCH_ROUNDS', 3);
const SCALE = envNum('MM_BENCH_SCALE', 4);
/** Kept for the --fsync / md5 / --incremental / scale steps and the report. */
const RESERVE_MS = 180_000;
const log = (s: string) => console.log(s);

/** null when the CLI has a source for `p`'s scheme, else why not ("no source for s3://"). */
async function unregistered(p: Protocol, work: string): Promise<string | null> {
  const args = [
    'sync',
    '--remote',
    p.probeUrl,
    '--remote_model_name',
    'm',
    '--remote_donefile_name',
    'd',
    '--local_path',
    path.join(work, 'probe'),
    '--print-config',
  ];
  const m = await measure({ file: BIN, args, cwd: ROOT }, { timeoutMs: 60_000 });
  return m.code === 0 ? null : m.stderr.trim().replace(/^model-monitor: /, '') || `exit ${m.code}`;
}

/** One pull of a model SCALE × the bench model (same shape, built in the server's root): does peak RSS grow with it? */
async function scaled(protocol: string, target: Target, data: Dataset, rows: readonly Row[], work: string): Promise<NonNullable<Extras['scale']> | undefined> {
  const c4 = rows.find((r) => r.mm && r.label.endsWith('--concurrency 4'));
  if (!target.diskRoot || SCALE < 2 || !c4?.samples.length) return undefined;
  const mib = Math.round((data.totalBytes / (1024 * 1024)) * SCALE);
  const root = path.join(target.diskRoot, 'models', 'scaled');
  const local = await mkdtemp(path.join(work, 'scaled-'));
  try {
    log(`  building a ${mib} MiB model for the scale pull …`);
    const big = await buildDataset(root, mib);
    syncDisks();
    const m = await measure(mmSync(target, local, ['--concurrency', '4'], { model: 'scaled/models/model', donefile: 'scaled/models/donefile' }), {
      timeoutMs: 600_000,
    });
    if (m.code !== 0) throw new Error(`scaled pull failed: ${m.stderr}`);
    const basePeakRss = median(c4.samples.map((x) => x.peakRss));
    log(`  ${SCALE} × pull: ${(m.wallMs / 1000).toFixed(2)} s, ${(m.peakRss / 1048576).toFixed(0)} MiB peak RSS`);
    return { protocol, factor: SCALE, bytes: big.totalBytes, wallMs: m.wallMs, peakRss: m.peakRss, basePeakRss };
  } finally {
    await rm(local, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
}

/** --fsync pull, md5-manifest pull, then one changed file with --incremental: all on `target`. */
async function extras(protocol: string, target: Target, data: Dataset, rows: readonly Row[], work: string): Promise<Extras> {
  const out: Extras = {};
  const c4 = rows.find((r) => r.mm && r.label.endsWith('--concurrency 4'));
  const f = await pullOnce(work, data, (dir) => ({ cmd: mmSync(target, dir, ['--concurrency', '4', '--fsync']), out: path.join(dir, 'model') }));
  if (!f.bad && c4?.samples.length) out.fsync = { protocol, wallMs: f.m.wallMs, baselineMs: median(c4.samples.map((x) => x.wallMs)), peakRss: f.m.peakRss };
  log(`  --fsync: ${f.bad ?? `${(f.m.wallMs / 1000).toFixed(2)} s`}`);
  if (!target.diskRoot) return out;
  const incRoot = path.join(target.diskRoot, 'models', 'inc');
  const local = await mkdtemp(path.join(work, 'inc-'));
  const names = { model: 'inc/model', donefile: 'inc/donefile' };
  try {
    await mkdir(incRoot, { mode: 0o755 });
    runOrThrow('cp', ['-al', path.join(data.root, 'models', 'model'), path.join(incRoot, 'model')]);
    await writeDonefile(path.join(incRoot, 'donefile'), manifestOf(data.files), 0);
    syncDisks();
    const full = await measure(mmSync(target, local, ['--incremental'], names), { timeoutMs: 300_000 });
    if (full.code !== 0) throw new Error(`md5 pull failed: ${full.stderr}`);
    out.md5Pull = { protocol, wallMs: full.wallMs, peakRss: full.peakRss };
    const changed = data.files[18]!;
    const md5 = await replaceFile(path.join(incRoot, 'model', changed.path), changed.size);
    const files = data.files.map((x) => (x === changed ? { ...x, md5 } : x));
    const manifest = manifestOf(files);
    await writeDonefile(path.join(incRoot, 'donefile'), manifest, 10);
    syncDisks();
    const inc = await measure(mmSync(target, local, ['--incremental'], names), { timeoutMs: 300_000 });
    const ev = updatedEvent(inc);
    if (inc.code !== 0 || !ev) throw new Error(`incremental pull failed: ${inc.stderr}`);
    const manifestBytes = Buffer.byteLength(manifest);
    out.incremental = { protocol, wallMs: inc.wallMs, fetchedBytes: ev.fetchedBytes, changedBytes: changed.size, manifestBytes, files: ev.files };
    log(`  md5 pull ${(full.wallMs / 1000).toFixed(2)} s; incremental fetched ${ev.fetchedBytes} B in ${(inc.wallMs / 1000).toFixed(2)} s`);
  } finally {
    await rm(local, { recursive: true, force: true });
    await rm(incRoot, { recursive: true, force: true });
  }
  return out;
}

async function swapFigures(work: string, data: Dataset): Promise<SwapFigures[]> {
  const tiny = await measureSwaps(work, 'one-file model', await tinyModel(work), { bytes: 4096, swaps: 21, keepBackups: 10 });
  const big = await measureSwaps(work, 'bench model', path.join(data.root, 'models', 'model'), { bytes: data.totalBytes, swaps: 5, keepBackups: 2 });
  log(
    `swap: tiny ${tiny.withBackup.toFixed(2)} ms (window ${tiny.window.toFixed(3)}), model ${big.withBackup.toFixed(2)} ms (window ${big.window.toFixed(3)}, prune ${big.withPrune.toFixed(2)} ms)`,
  );
  return [tiny, big];
}

it('bench: model-monitor vs the peer tools', async () => {
  const t0 = performance.now();
  const load0 = loadavg()[0]!;
  const deadline = t0 + BUDGET_MS - RESERVE_MS;
  const work = await mkdtemp(path.join(tmpdir(), 'mm-bench-'));
  const rows: Row[] = [];
  const skipped: { protocol: string; reason: string }[] = [];
  const fixed: FixedCost[] = [];
  let ext: Extras = {};
  try {
    log(`building the model in ${work} …`);
    const data = await buildDataset(path.join(work, 'data'));
    const swaps = await swapFigures(work, data);
    const todo: Protocol[] = [];
    const only = process.env.MM_BENCH_ONLY?.toLowerCase();
    for (const p of protocols.filter((x) => !only || x.name.toLowerCase().includes(only))) {
      const why = (await p.missing()) ?? (await unregistered(p, work));
      if (why) {
        log(`skip ${p.name}: ${why}`);
        skipped.push({ protocol: p.name, reason: why });
      } else todo.push(p);
    }
    for (const [i, p] of todo.entries()) {
      const share = (deadline - performance.now()) / (todo.length - i);
      log(`${p.name} (≤ ${(share / 1000).toFixed(0)} s) …`);
      let target: Target | null = null;
      try {
        target = await p.start(data);
        const got = await runMatrix(p.name, target, data, { work, maxRounds: ROUNDS, deadline: performance.now() + share, log });
        rows.push(...got);
        const f = await fixedCost(p.name, target, work);
        if (f) fixed.push(f);
        if (!ext.incremental && target.diskRoot) {
          ext = await extras(p.name, target, data, got, work);
          const scale = await scaled(p.name, target, data, got, work);
          if (scale) ext.scale = scale;
        }
      } catch (err) {
        log(`  ${p.name} failed: ${(err as Error).stack ?? String(err)}`);
        skipped.push({ protocol: p.name, reason: `server failed: ${(err as Error).message.split('\n')[0]}` });
      } finally {
        await target?.stop().catch(() => {});
      }
    }
    const res: BenchResult = {
      totalBytes: data.totalBytes,
      load: [load0, loadavg()[0]!],
      rows,
      skipped,
      fixed,
      swaps,
      extras: ext,
      elapsedMs: performance.now() - t0,
    };
    const text = renderBench(res);
    log(`\n${text}\n`);
    if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('bench', text);
    expect(mainTable(res)).toContain('model-monitor');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
