/**
 * A fleet of `watch` monitors on one machine, each with its own --local_path:
 * some real CLI processes (bin/model-monitor.js), the rest in this process
 * (createMonitor() + watchLoop(), as the sidecar would run them, without 50
 * node start-ups). Both report every swap they make, with its time.
 */
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { allOptions, buildConfig, resolveRaw } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { ServedRecord } from '../../src/model.js';
import { createMonitor, type Monitor } from '../../src/monitor.js';
import { createWaker, watchLoop } from '../../src/watch.js';
import { start, type Running } from './cli.js';

export interface FleetMember {
  readonly dir: string;
  readonly kind: 'cli' | 'lib';
  /** Epoch ms of each swap this member made, in order. */
  updates(): number[];
  /** Failed cycles so far. */
  failures(): number;
}

export interface Fleet {
  readonly members: readonly FleetMember[];
  /** Members that made at least `n` swaps. */
  atLeast(n: number): number;
  stop(): Promise<void>;
}

/** Flags by kebab name; 'true' is a bare boolean flag. */
export type Flags = Readonly<Record<string, string>>;

function argv(flags: Flags): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === 'true' ? [`--${k}`] : [`--${k}`, v]));
}

function cliMember(dir: string, flags: Flags): { member: FleetMember; run: Running } {
  const run = start(['watch', ...argv({ ...flags, 'local-path': dir })]);
  const member: FleetMember = {
    dir,
    kind: 'cli',
    updates: () => run.lines.filter((l) => l.event === 'updated').map((l) => Number(l['time'])),
    failures: () => run.count((l) => l.event === 'sync-failed'),
  };
  return { member, run };
}

async function libMember(dir: string, flags: Flags, shutdown: AbortSignal): Promise<{ member: FleetMember; monitor: Monitor; done: Promise<number> }> {
  const config = buildConfig('watch', resolveRaw({ ...flags, 'local-path': dir, 'log-level': 'silent' }, {}, allOptions()));
  const log = silentLogger();
  const monitor = createMonitor(config, log);
  await monitor.start();
  const times: number[] = [];
  let failed = 0;
  const done = watchLoop((s) => monitor.cycle(s), createWaker(), {
    intervalMs: config.intervalMs,
    maxFailures: null,
    log,
    shutdown,
    onOutcome: (o) => {
      if (o.kind === 'updated') times.push(Date.now());
      if (o.kind === 'failed') failed++;
    },
  });
  return { member: { dir, kind: 'lib', updates: () => times, failures: () => failed }, monitor, done };
}

/** Starts `cli` CLI processes and `lib` in-process monitors with the same flags, under `work/m<i>`. */
export async function startFleet(o: { work: string; cli: number; lib: number; flags: Flags }): Promise<Fleet> {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one shutdown signal for every in-process monitor
  const members: FleetMember[] = [];
  const runs: Running[] = [];
  const libs: { monitor: Monitor; done: Promise<number> }[] = [];
  const stop = async () => {
    ac.abort();
    await Promise.all(runs.map((r) => r.stop()));
    await Promise.all(libs.map((l) => l.done));
    await Promise.all(libs.map((l) => l.monitor.close()));
  };
  try {
    for (let i = 0; i < o.cli; i++) {
      const m = cliMember(path.join(o.work, `m${i}`), o.flags);
      members.push(m.member);
      runs.push(m.run);
    }
    for (let i = o.cli; i < o.cli + o.lib; i++) {
      const m = await libMember(path.join(o.work, `m${i}`), o.flags, ac.signal);
      members.push(m.member);
      libs.push(m);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { members, atLeast: (n) => members.filter((m) => m.updates().length >= n).length, stop };
}

/** What a member's record says it serves (rename swap: `<local>/_serving_monitor_tmp/<name>.served.json`). */
export async function servedRecord(dir: string, name = 'model'): Promise<ServedRecord | null> {
  const text = await readFile(path.join(dir, '_serving_monitor_tmp', `${name}.served.json`), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as ServedRecord);
}
