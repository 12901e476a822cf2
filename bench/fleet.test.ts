/**
 * `npm run bench:fleet`: 200 watchers (`createMonitor()` + `watchLoop()`, each
 * with its own local dir, --interval 1) in one process against one WebHDFS
 * test server in the same process, which logs every request. Measures requests
 * per second while nothing changes (expected ≈ 200/s: one GETFILESTATUS of the
 * donefile per poll per watcher) and, after one publish, how long each watcher
 * took to apply it. Writes its table to bench/RESULTS.md.
 *
 * Knobs: MM_FLEET_WATCHERS (default 200), MM_FLEET_IDLE_S (default 10),
 * MM_BENCH_NO_WRITE=1 (print only).
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { allOptions, buildConfig, resolveRaw } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createMonitor, type Monitor } from '../src/monitor.js';
import { createWaker, watchLoop } from '../src/watch.js';
import { waitFor } from '../test/servers/ports.js';
import { WebHdfsTestServer, type LoggedRequest } from '../test/servers/webhdfs.js';
import { median } from './matrix.js';
import { writeSection } from './report.js';

const envNum = (k: string, d: number) => (process.env[k] && Number.isFinite(Number(process.env[k])) ? Number(process.env[k]) : d);
const WATCHERS = envNum('MM_FLEET_WATCHERS', 200);
const IDLE_MS = envNum('MM_FLEET_IDLE_S', 10) * 1000;
const FILES = 4;
const FILE_BYTES = 256 * 1024;

/** A producer's publish: files written beside and renamed in, then the donefile with a later mtime. */
async function publish(root: string, version: number): Promise<void> {
  const model = path.join(root, 'models', 'model');
  await mkdir(model, { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const f = path.join(model, `part-${i}.bin`);
    await writeFile(`${f}.tmp`, randomBytes(FILE_BYTES));
    await rename(`${f}.tmp`, f);
  }
  const done = path.join(root, 'models', 'donefile');
  await writeFile(done, `version ${version}\n`);
  const t = Math.floor(Date.now() / 1000) + 10 * version;
  await utimes(done, t, t);
}

function byOp(reqs: readonly LoggedRequest[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reqs) out[`${r.server} ${r.op || '(none)'}`] = (out[`${r.server} ${r.op || '(none)'}`] ?? 0) + 1;
  return out;
}

interface Watcher {
  readonly monitor: Monitor;
  /** performance.now() of each applied version, by version number (1, 2). */
  readonly applied: Map<number, number>;
  /** Cycles that threw (the loop retries them after its backoff). */
  failed: number;
  done: Promise<number>;
}

async function startWatchers(url: string, work: string, shutdown: AbortSignal): Promise<Watcher[]> {
  const log = silentLogger();
  const out: Watcher[] = [];
  for (let i = 0; i < WATCHERS; i++) {
    const cli = {
      remote: `${url}/models`, 'remote-model-name': 'model', 'remote-donefile-name': 'donefile',
      'local-path': path.join(work, `w${i}`), interval: '1', 'log-level': 'silent', 'hdfs-user': 'bench',
    };
    const config = buildConfig('watch', resolveRaw(cli, {}, allOptions()));
    const monitor = createMonitor(config, log);
    await monitor.start();
    const w: Watcher = { monitor, applied: new Map(), failed: 0, done: Promise.resolve(0) };
    w.done = watchLoop((s) => monitor.cycle(s), createWaker(), {
      intervalMs: config.intervalMs, maxFailures: null, log, shutdown,
      onOutcome: (o) => {
        if (o.kind === 'updated') w.applied.set(w.applied.size + 1, performance.now());
        if (o.kind === 'failed') w.failed++;
      },
    });
    out.push(w);
  }
  return out;
}

const f1 = (x: number) => x.toFixed(1);

it('fleet: 200 watchers against one server', async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'mm-fleet-'));
  const root = path.join(work, 'remote');
  await publish(root, 1);
  const srv = await WebHdfsTestServer.start({ root });
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one shutdown signal for every watcher (a real fleet has one per process)
  let watchers: Watcher[] = [];
  try {
    const t0 = performance.now();
    watchers = await startWatchers(srv.url, work, ac.signal);
    await waitFor(() => watchers.every((w) => w.applied.has(1)), 'every watcher to apply version 1', 300_000);
    const firstSync = performance.now() - t0;
    // Idle: a measurement window (nothing to wait for; the watchers poll on their own).
    srv.requests.splice(0);
    const cpu0 = process.cpuUsage();
    const i0 = performance.now();
    await delay(IDLE_MS);
    const idleS = (performance.now() - i0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const idle = srv.requests.splice(0);
    // One publish; every watcher's time to apply it.
    const failedBefore = watchers.reduce((n, w) => n + w.failed, 0);
    const tPub = performance.now();
    await publish(root, 2);
    await waitFor(() => watchers.every((w) => w.applied.has(2)), 'every watcher to apply version 2', 300_000);
    const lags = watchers.map((w) => (w.applied.get(2)! - tPub) / 1000).sort((a, b) => a - b);
    const pub = srv.requests.splice(0);
    const failedPub = watchers.reduce((n, w) => n + w.failed, 0) - failedBefore;
    const rss = process.memoryUsage().rss;
    const idleOps = byOp(idle);
    const pubOps = byOp(pub);
    const ops = [...new Set([...Object.keys(idleOps), ...Object.keys(pubOps)])].sort();
    const text = [
      `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} CPUs, node ${process.version}: ${WATCHERS} watchers ` +
        `(createMonitor + watchLoop, --interval 1, ±10 % jitter) and the WebHDFS test server in one process; model ${FILES} × ${FILE_BYTES / 1024} KiB.`,
      '',
      '| figure | value |',
      '|---|---|',
      `| first sync of all ${WATCHERS} (thundering herd from start) | ${f1(firstSync / 1000)} s |`,
      `| idle requests/s (${f1(idleS)} s window) | **${f1(idle.length / idleS)}** = ${(idle.length / idleS / WATCHERS).toFixed(2)} per watcher per second |`,
      `| idle CPU of the whole process (watchers + server) | ${f1(((cpu.user + cpu.system) / 1000 / idleS / 10))} % of one core; ${((cpu.user + cpu.system) / Math.max(1, idle.length)).toFixed(0)} µs per poll |`,
      `| time to apply one publish: min / median / max | ${lags[0]!.toFixed(2)} / ${median(lags).toFixed(2)} / ${lags[lags.length - 1]!.toFixed(2)} s |`,
      `| cycles failed and retried: before the publish / during it | ${failedBefore} / ${failedPub} |`,
      `| process RSS with ${WATCHERS} monitors | ${(rss / 2 ** 20).toFixed(0)} MiB |`,
      '',
      '| request (nn = namenode, dn = datanode) | idle window | publish until all applied |',
      '|---|--:|--:|',
      ...ops.map((op) => `| ${op} | ${idleOps[op] ?? 0} | ${pubOps[op] ?? 0} |`),
    ].join('\n');
    console.log(`\n${text}\n`);
    if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('fleet', text);
    expect(idle.length).toBeGreaterThan(0);
  } finally {
    ac.abort();
    await Promise.all(watchers.map((w) => w.done));
    await Promise.all(watchers.map((w) => w.monitor.close()));
    await srv.close();
    await rm(work, { recursive: true, force: true });
  }
});
