/**
 * `npm run bench:fleet`: 200 watchers (createMonitor() + watchLoop(), each with
 * its own local dir, --interval 1) in one process against one WebHDFS test
 * server in the same process, which counts every request and every data byte.
 * Three rollouts of one publish: straight to the origin, through a Squid cache
 * tier (Debian's, memory cache, examples/squid/squid.conf's rules), and
 * through Squid with --spread 5. For each: origin bytes per publish, time
 * until every watcher serves the new version (p50 / p99 / max), and the
 * version skew over time (share of the fleet on the new version). Plus, for
 * the direct run, requests/s and CPU while nothing changes. Writes its tables
 * to bench/RESULTS.md.
 *
 * Knobs: MM_FLEET_WATCHERS (200), MM_FLEET_MODEL_MB (1, in 4 files),
 * MM_FLEET_IDLE_S (10), MM_FLEET_ONLY=direct,squid,spread (a subset),
 * MM_BENCH_NO_WRITE=1 (print only).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { startFleet, type Fleet, type Flags } from '../test/helpers/fleet.js';
import { waitFor } from '../test/servers/ports.js';
import { squidMissing, startSquid } from '../test/servers/squid.js';
import { WebHdfsTestServer, type LoggedRequest } from '../test/servers/webhdfs.js';
import { writeSection } from './report.js';

const envNum = (k: string, d: number) => (process.env[k] && Number.isFinite(Number(process.env[k])) ? Number(process.env[k]) : d);
const WATCHERS = envNum('MM_FLEET_WATCHERS', 200);
const IDLE_MS = envNum('MM_FLEET_IDLE_S', 10) * 1000;
const FILES = 4;
const MODEL_BYTES = envNum('MM_FLEET_MODEL_MB', 1) * 1024 * 1024;
const FILE_BYTES = Math.floor(MODEL_BYTES / FILES);
const SKEW_AT = [1, 2, 3, 5, 10];

/** A producer's publish: the same paths and sizes each version, written beside and renamed in, then the donefile. */
async function publish(root: string, version: number): Promise<void> {
  const model = path.join(root, 'models', 'model');
  await mkdir(model, { recursive: true });
  const t = Math.floor(Date.now() / 1000) + 10 * version;
  for (let i = 0; i < FILES; i++) {
    const f = path.join(model, `part-${i}.bin`);
    await writeFile(`${f}.tmp`, randomBytes(FILE_BYTES));
    await utimes(`${f}.tmp`, t, t);
    await rename(`${f}.tmp`, f);
  }
  const done = path.join(root, 'models', 'donefile');
  await writeFile(`${done}.tmp`, `version ${version}\n`);
  await utimes(`${done}.tmp`, t, t);
  await rename(`${done}.tmp`, done);
}

interface Scenario {
  readonly key: string;
  readonly name: string;
  readonly squid: boolean;
  readonly spread?: number;
  /** Measure requests/s and CPU while nothing changes. */
  readonly idle?: boolean;
}

interface Outcome {
  readonly scenario: Scenario;
  readonly firstSyncS: number;
  readonly originFirst: number;
  readonly originPublish: number;
  readonly lags: number[];
  readonly failedDuring: number;
  /** Seconds after the publish → watchers on the new version. */
  readonly skew: { t: number; onNew: number }[];
  readonly idle?: { rps: number; cpuPct: number; usPerPoll: number; seconds: number };
  readonly rssMiB: number;
}

const failures = (f: Fleet) => f.members.reduce((n, m) => n + m.failures(), 0);
const pct = (xs: readonly number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

async function idleWindow(srv: WebHdfsTestServer): Promise<NonNullable<Outcome['idle']>> {
  srv.requests.splice(0);
  const cpu0 = process.cpuUsage();
  const i0 = performance.now();
  await delay(IDLE_MS); // a measurement window: the watchers poll on their own
  const seconds = (performance.now() - i0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const reqs: LoggedRequest[] = srv.requests.splice(0);
  const us = cpu.user + cpu.system;
  return { rps: reqs.length / seconds, cpuPct: us / 1e4 / seconds, usPerPoll: us / Math.max(1, reqs.length), seconds };
}

async function runScenario(s: Scenario): Promise<Outcome> {
  const work = await mkdtemp(path.join(tmpdir(), 'mm-fleet-'));
  const root = path.join(work, 'remote');
  await publish(root, 1);
  const srv = await WebHdfsTestServer.start({ root });
  const squid = s.squid ? await startSquid({ memMb: Math.max(256, Math.ceil((3 * MODEL_BYTES) / 2 ** 20)) }) : null;
  let fleet: Fleet | null = null;
  try {
    const flags: Flags = {
      remote: `${srv.url}/models`,
      'remote-model-name': 'model',
      'remote-donefile-name': 'donefile',
      interval: '1',
      'hdfs-user': 'bench',
      'keep-backups': '1',
      ...(squid ? { proxy: squid.url } : {}),
      ...(s.spread ? { spread: String(s.spread) } : {}),
    };
    const t0 = Date.now();
    fleet = await startFleet({ work, cli: 0, lib: WATCHERS, flags });
    await waitFor(() => fleet!.atLeast(1) === WATCHERS, `every watcher to apply version 1 (${s.name})`, 600_000);
    const firstSyncS = (Date.now() - t0) / 1000;
    const originFirst = srv.dataBytes;
    const idle = s.idle ? await idleWindow(srv) : undefined;
    const failedBefore = failures(fleet);
    const tPub = Date.now();
    await publish(root, 2);
    const skew: Outcome['skew'] = [];
    await waitFor(
      () => {
        const onNew = fleet!.atLeast(2);
        skew.push({ t: (Date.now() - tPub) / 1000, onNew });
        return onNew === WATCHERS;
      },
      `every watcher to apply version 2 (${s.name})`,
      600_000,
    );
    const lags = fleet.members.map((m) => (m.updates()[1]! - tPub) / 1000).sort((a, b) => a - b);
    return {
      scenario: s,
      firstSyncS,
      originFirst,
      originPublish: srv.dataBytes - originFirst,
      lags,
      failedDuring: failures(fleet) - failedBefore,
      skew,
      ...(idle ? { idle } : {}),
      rssMiB: process.memoryUsage().rss / 2 ** 20,
    };
  } finally {
    await fleet?.stop();
    await squid?.stop();
    await srv.close();
    await rm(work, { recursive: true, force: true });
  }
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const bytes = (b: number) => `${f1(b / 2 ** 20)} MiB (${f1(b / MODEL_BYTES)} ×)`;

function onNewAt(o: Outcome, t: number): string {
  const hit = [...o.skew].reverse().find((x) => x.t <= t);
  return `${Math.round((100 * (hit?.onNew ?? 0)) / WATCHERS)} %`;
}

function report(outs: readonly Outcome[]): string {
  const row = (label: string, f: (o: Outcome) => string) => `| ${label} | ${outs.map(f).join(' | ')} |`;
  const idle = outs.find((o) => o.idle)?.idle;
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} CPUs, node ${process.version}: ${WATCHERS} watchers ` +
      `(createMonitor + watchLoop, --interval 1, ±10 % jitter) and the WebHDFS test server in one process; model ${FILES} × ${FILE_BYTES >= 2 ** 20 ? `${f1(FILE_BYTES / 2 ** 20)} MiB` : `${FILE_BYTES / 1024} KiB`}; ` +
      "the cache tier is Debian's Squid 5 (memory cache, examples/squid/squid.conf's rules) in its own process.",
    '',
    `| figure | ${outs.map((o) => o.scenario.name).join(' | ')} |`,
    `|---|${outs.map(() => '--:').join('|')}|`,
    row(`first sync of all ${WATCHERS} (cold start, thundering herd)`, (o) => `${f1(o.firstSyncS)} s`),
    row('origin data bytes, first sync', (o) => bytes(o.originFirst)),
    row('**origin data bytes per publish**', (o) => `**${bytes(o.originPublish)}**`),
    row(
      `**time until all ${WATCHERS} serve the new version**: p50 / p99 / max`,
      (o) => `${f2(pct(o.lags, 50))} / ${f2(pct(o.lags, 99))} / **${f2(o.lags.at(-1)!)}** s`,
    ),
    row('first watcher on the new version', (o) => `${f2(o.lags[0]!)} s`),
    ...SKEW_AT.map((t) => row(`share on the new version ${t} s after the publish`, (o) => onNewAt(o, t))),
    row('cycles failed (and retried) during the publish', (o) => String(o.failedDuring)),
    row(`process RSS with ${WATCHERS} monitors`, (o) => `${o.rssMiB.toFixed(0)} MiB`),
    '',
    idle
      ? `Idle, direct (${f1(idle.seconds)} s window): **${f1(idle.rps)} requests/s** = ${f2(idle.rps / WATCHERS)} per watcher per second; ` +
        `CPU of the whole process (watchers + server) ${f1(idle.cpuPct)} % of one core, ${idle.usPerPoll.toFixed(0)} µs per poll.`
      : '',
  ].join('\n');
}

it('fleet: 200 watchers, straight to the origin and through a cache tier', async () => {
  const squid = squidMissing();
  if (squid) console.warn(`cache-tier runs skipped: ${squid}`);
  const only = process.env.MM_FLEET_ONLY?.split(',');
  const scenarios: Scenario[] = [
    { key: 'direct', name: 'direct', squid: false, idle: true },
    ...(squid
      ? []
      : [
          { key: 'squid', name: 'through Squid', squid: true },
          { key: 'spread', name: 'Squid + --spread 5', squid: true, spread: 5 },
        ]),
  ].filter((s) => !only || only.includes(s.key));
  const outs: Outcome[] = [];
  for (const s of scenarios) outs.push(await runScenario(s));
  const text = report(outs);
  console.log(`\n${text}\n`);
  if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('fleet', text);
  expect(outs.every((o) => o.lags.length === WATCHERS)).toBe(true);
});
