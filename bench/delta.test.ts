/**
 * `npm run bench:delta`: what a model update costs with chunk-level deltas.
 * A one-file model of MM_BENCH_DELTA_MIB (default 1024) MiB; v2 rewrites 8
 * regions of 4 MiB, inserts 1 MiB in the middle and appends 16 MiB. Per store
 * (file://, FTP (vsftpd), S3 (s3rver), WebHDFS, HTTP (nginx over the file://
 * tree)): `publish` v1, a monitor pulls it, `publish` v2; then, interleaved,
 * MM_BENCH_ROUNDS (default 3) rounds of (a) `sync` of v2 onto a copy of the
 * monitor that serves v1 (a delta pull) and (b) `sync` of v2 into an empty
 * local dir (a whole-file pull): fetched bytes (the `updated` event; over
 * HTTP also nginx's $body_bytes_sent), wall time, peak RSS. And rsync's
 * figure for the same change: `rsync -a --no-whole-file --stats` v2 DIR →
 * a copy of v1 DIR (its delta algorithm, no network). Writes bench/RESULTS.md's
 * `delta` section (MM_BENCH_NO_WRITE=1: print only; MM_BENCH_ONLY: targets
 * whose name contains it).
 */
import { cp, lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { readPublished } from '../src/publish/published.js';
import { MiB } from '../test/helpers/bytes.js';
import { deltaVersions, writeModel } from '../test/helpers/delta.js';
import { startTarget, targetMissing, type Target, type TargetKind } from '../test/helpers/targets.js';
import { nginxUnavailable, startNginx, type NginxHandle } from '../test/servers/nginx.js';
import { BIN, median, ROOT } from './matrix.js';
import { measure, syncDisks, versionOf, which } from './proc.js';
import { machine, writeSection } from './report.js';

const envNum = (k: string, d: number) => (Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
const SIZE = envNum('MM_BENCH_DELTA_MIB', 1024) * MiB;
const ROUNDS = envNum('MM_BENCH_ROUNDS', 3);
const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const log = (s: string) => console.log(s);

interface Sample {
  readonly wallMs: number;
  readonly peakRss: number;
  readonly fetched: number;
  readonly reused: number;
  /** nginx's count of body bytes sent for the pull (HTTP only). */
  readonly origin: number | null;
}

interface TargetRow {
  readonly name: string;
  readonly indexBytes: number;
  readonly delta: Sample[];
  readonly whole: Sample[];
}

const kinds: { name: string; kind: TargetKind; http?: boolean }[] = [
  { name: 'file://', kind: 'file' },
  { name: 'FTP (vsftpd)', kind: 'vsftpd' },
  { name: 'S3 (s3rver)', kind: 's3rver' },
  { name: 'WebHDFS (test server)', kind: 'webhdfs' },
  { name: 'HTTP (nginx)', kind: 'file', http: true },
];

async function indexBytesOf(t: Target): Promise<number> {
  const src = t.source();
  try {
    const o = { model: 'model', donefile: 'donefile', timeoutMs: 60_000, retries: 2, signal: AbortSignal.timeout(120_000), log: silentLogger() };
    return (await readPublished(src, o))!.manifest!.files[0]!.index!.bytes;
  } finally {
    await src.close();
  }
}

async function cli(args: readonly string[], env: Readonly<Record<string, string>>, ng: NginxHandle | null): Promise<Sample> {
  const logged = ng ? (await ng.accessLog()).length : 0;
  const m = await measure({ file: BIN, args, env: { ...env, MODEL_MONITOR_LOG_FORMAT: 'json' }, cwd: ROOT }, { timeoutMs: 30 * 60_000 });
  if (m.code !== 0) throw new Error(`${args.join(' ')} exited ${m.code}: ${m.stderr}`);
  const u = m.stdout
    .split('\n')
    .filter((l) => l.includes('"updated"'))
    .map((l) => JSON.parse(l) as { fetchedBytes: number; reusedBytes: number })[0];
  if (!u) throw new Error(`no updated event: ${m.stdout.slice(-2000)}`);
  const origin = ng ? (await ng.accessLog()).slice(logged).reduce((n, l) => n + l.bytes, 0) : null;
  return { wallMs: m.wallMs, peakRss: m.peakRss, fetched: u.fetchedBytes, reused: u.reusedBytes, origin };
}

async function publish(t: Target, model: string): Promise<void> {
  const m = await measure({ file: BIN, args: ['publish', model, ...t.args, ...names], env: { ...t.env }, cwd: ROOT }, { timeoutMs: 30 * 60_000 });
  if (m.code !== 0) throw new Error(`publish exited ${m.code}: ${m.stderr}`);
}

async function benchTarget(k: (typeof kinds)[number], dir: string, v1: string, v2: string): Promise<TargetRow> {
  const t = await startTarget(k.kind);
  let ng: NginxHandle | null = null;
  try {
    if (k.http) ng = await startNginx(path.dirname(t.disk!), { accessLog: true });
    const remote = ng ? ['--remote', `${ng.url}/${path.basename(t.disk!)}`] : [...t.args];
    const sync = (local: string) => ['sync', ...remote, ...names, '--local_path', local, '--log-level', 'info', '--no-progress'];
    await publish(t, v1);
    const base = path.join(dir, 'served-v1');
    await cli(sync(base), t.env, null);
    await publish(t, v2);
    const indexBytes = await indexBytesOf(t);
    const row: TargetRow = { name: k.name, indexBytes, delta: [], whole: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const local = path.join(dir, 'round');
      await rm(local, { recursive: true, force: true });
      await copyServed(base, local);
      syncDisks();
      row.delta.push(await cli(sync(local), t.env, ng));
      await rm(local, { recursive: true, force: true });
      syncDisks();
      row.whole.push(await cli(sync(local), t.env, ng));
      await rm(local, { recursive: true, force: true });
      log(`${k.name} round ${r + 1}: delta ${JSON.stringify(row.delta.at(-1))} whole ${JSON.stringify(row.whole.at(-1))}`);
    }
    await rm(base, { recursive: true, force: true });
    return row;
  } finally {
    await ng?.close();
    await t.close();
  }
}

/**
 * A copy of a monitor that serves v1: its served dir, record and chunk index
 * store. The record names the served dir by dev:ino (--swap rename), so the
 * copy's record is pointed at the copy's dir, as the monitor would have written it.
 */
async function copyServed(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
  const rec = path.join(to, '_serving_monitor_tmp', 'model.served.json');
  const st = await lstat(path.join(to, 'model'));
  await writeFile(rec, JSON.stringify({ ...JSON.parse(await readFile(rec, 'utf8')), dirId: `${st.dev}:${st.ino}` }));
}

interface RsyncSample {
  readonly wallMs: number;
  readonly literal: number;
  readonly sent: number;
}

/** rsync's delta algorithm between two local dirs (`--no-whole-file`: local copies default to whole files). */
async function rsyncRound(dir: string, v1: string, v2: string): Promise<RsyncSample> {
  const dest = path.join(dir, 'rsync-dest');
  await rm(dest, { recursive: true, force: true });
  await cp(v1, dest, { recursive: true });
  syncDisks();
  const m = await measure({ file: 'rsync', args: ['-a', '--no-whole-file', '--stats', `${v2}/`, `${dest}/`] }, { timeoutMs: 30 * 60_000 });
  await rm(dest, { recursive: true, force: true });
  if (m.code !== 0) throw new Error(`rsync exited ${m.code}: ${m.stderr}`);
  const num = (re: RegExp) => Number((re.exec(m.stdout)?.[1] ?? '0').replace(/[,.]/g, ''));
  return { wallMs: m.wallMs, literal: num(/Literal data: ([\d,.]+) bytes/), sent: num(/Total bytes sent: ([\d,.]+)/) };
}

const mib = (b: number) => (b / MiB).toFixed(2);
const s = (ms: number) => (ms / 1000).toFixed(2);

function render(rows: readonly TargetRow[], rsync: RsyncSample[], changed: number, load: [number, number]): string {
  const head = [
    '## Chunk-level deltas: an update of a 1 GiB file, delta pull vs whole-file pull vs rsync',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; one file of ${SIZE / MiB} MiB; v2 = 8 rewrites of 4 MiB, 1 MiB inserted in the middle, 16 MiB appended: ${mib(changed)} MiB changed. Medians of ${ROUNDS} interleaved rounds (delta, whole, delta, whole…); load average ${load[0].toFixed(1)} at the start, ${load[1].toFixed(1)} at the end (the machine is shared: wall times are noisy, bytes are not).`,
    '',
    machine(),
    `- ${versionOf('rsync', ['--version'], /rsync\s+version\s+\S+/) ?? 'rsync ?'}`,
    '',
    '| store | pull | fetched MiB | fetched / (changed + index) | origin sent MiB | reused MiB | wall s | peak RSS MiB |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  const lines = [...head];
  for (const r of rows) {
    for (const [what, xs] of [
      ['**delta**', r.delta],
      ['whole file', r.whole],
    ] as const) {
      const fetched = median(xs.map((x) => x.fetched));
      const origin = xs[0]?.origin === null ? '' : mib(median(xs.map((x) => x.origin ?? 0)));
      lines.push(
        `| ${r.name} | ${what} | ${mib(fetched)} | ${(fetched / (changed + r.indexBytes)).toFixed(3)} | ${origin} | ${mib(median(xs.map((x) => x.reused)))} | ${s(median(xs.map((x) => x.wallMs)))} | ${(median(xs.map((x) => x.peakRss)) / MiB).toFixed(0)} |`,
      );
    }
  }
  if (rsync.length) {
    const lit = median(rsync.map((x) => x.literal));
    lines.push(
      `| local dir → dir | rsync -a --no-whole-file (literal data; ${mib(median(rsync.map((x) => x.sent)))} MiB sent in all) | ${mib(lit)} | ${(lit / changed).toFixed(3)} |  |  | ${s(median(rsync.map((x) => x.wallMs)))} |  |`,
    );
  }
  const ix = rows[0]?.indexBytes;
  if (ix !== undefined)
    lines.push('', `Chunk index of v2: ${ix} bytes (${((100 * ix) / (SIZE + 17 * MiB)).toFixed(3)} % of the file); the monitor's fetched bytes include it.`);
  lines.push(
    '',
    'Every server runs on 127.0.0.1, so moving a byte costs almost nothing here and a wall time is mostly local work: a delta pull reads the',
    'served copy, checks a SHA-256 per chunk and the md5 of the whole file and writes the new one (CPU-bound, one core); a whole-file pull',
    'computes the md5 while it writes. Over a real link the difference is the bytes: at 1 Gbit/s (125 MB/s) the whole file alone takes',
    `${((SIZE + 17 * MiB) / 125e6).toFixed(1)} s on the wire, the delta's fetched bytes ${((changed * 1.03) / 125e6).toFixed(1)} s. rsync runs DIR → DIR (no network either),`,
    'for its byte figure: literal data is what its delta algorithm had to send.',
  );
  return lines.join('\n');
}

it('delta pull vs whole-file pull vs rsync', async () => {
  const load0 = loadavg()[0]!;
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-bench-delta-'));
  try {
    const V = deltaVersions(SIZE, { rewrite: 4 * MiB, insert: 1 * MiB, append: 16 * MiB });
    const v1 = path.join(dir, 'v1');
    const v2 = path.join(dir, 'v2');
    await writeModel(v1, V.v1);
    await writeModel(v2, V.v2);
    const changed = V.changedBytes;
    const only = process.env.MM_BENCH_ONLY;
    const rows: TargetRow[] = [];
    const nginxMissing = await nginxUnavailable();
    for (const k of kinds) {
      if (only && !k.name.includes(only)) continue;
      if (targetMissing(k.kind) !== null || (k.http && nginxMissing)) {
        log(`${k.name}: skipped`);
        continue;
      }
      rows.push(await benchTarget(k, dir, v1, v2));
    }
    const rsync: RsyncSample[] = [];
    if (which('rsync') && (!only || 'rsync'.includes(only))) for (let r = 0; r < ROUNDS; r++) rsync.push(await rsyncRound(dir, v1, v2));
    const body = render(rows, rsync, changed, [load0, loadavg()[0]!]);
    log(body);
    if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('delta', body);
    for (const r of rows) expect(median(r.delta.map((x) => x.fetched))).toBeLessThanOrEqual(1.2 * (changed + r.indexBytes));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
