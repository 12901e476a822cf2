/**
 * The bench's tables (markdown, printed and written to bench/RESULTS.md
 * between markers, so the hand-written analysis around them survives a re-run),
 * the machine description, and the targets check.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { median, ROOT, type FixedCost, type Row } from './matrix.js';
import { versionOf, which } from './proc.js';
import type { SwapFigures } from './swap.js';

const MiB = 2 ** 20;
export const RESULTS = path.join(ROOT, 'bench', 'RESULTS.md');

export interface Extras {
  fsync?: { protocol: string; wallMs: number; baselineMs: number; peakRss: number };
  md5Pull?: { protocol: string; wallMs: number; peakRss: number };
  /** One pull of a model `factor` × the bench model's size (same shape), beside the 1× c4 median. */
  scale?: { protocol: string; factor: number; bytes: number; wallMs: number; peakRss: number; basePeakRss: number };
  /** fetchedBytes is model files only; the md5 manifest donefile (manifestBytes) is read besides. */
  incremental?: { protocol: string; wallMs: number; fetchedBytes: number; changedBytes: number; manifestBytes: number; files: number };
}

export interface BenchResult {
  readonly totalBytes: number;
  /** 1-minute load averages at the start and the end (other work on the machine skews figures). */
  readonly load: readonly [number, number];
  readonly rows: readonly Row[];
  readonly skipped: readonly { protocol: string; reason: string }[];
  /** Per protocol: a `sync` with nothing to pull. */
  readonly fixed: readonly FixedCost[];
  readonly swaps: readonly SwapFigures[];
  readonly extras: Extras;
  readonly elapsedMs: number;
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
const mib = (b: number) => (b / MiB).toFixed(0);
const size = (b: number) => (b >= MiB ? `${mib(b)} MiB` : `${(b / 1024).toFixed(0)} KiB`);
/** A table cell: pipes escaped. */
const cell = (t: string) => t.replace(/\|/g, '\\|');

/** model-monitor's median time / the best peer's median time, per protocol; md5-verified rows against verified peers only. */
export function ratios(rows: readonly Row[]): Map<Row, number> {
  const out = new Map<Row, number>();
  for (const p of new Set(rows.map((r) => r.protocol))) {
    for (const md5 of [false, true]) {
      const same = (r: Row) => r.protocol === p && (r.md5 ?? false) === md5 && r.samples.length > 0;
      const peers = rows.filter((r) => same(r) && !r.mm);
      if (!peers.length) continue;
      const best = Math.min(...peers.map((r) => median(r.samples.map((x) => x.wallMs))));
      for (const r of rows.filter((x) => same(x) && x.mm)) out.set(r, median(r.samples.map((x) => x.wallMs)) / best);
    }
  }
  return out;
}

/** Median user CPU seconds per GiB pulled. */
export const userPerGiB = (r: Row, bytes: number): number => median(r.samples.map((x) => x.userMs)) / 1000 / (bytes / 2 ** 30);

export function mainTable(res: BenchResult): string {
  const ratio = ratios(res.rows);
  const lines = ['| protocol | tool | wall s | MB/s | peak RSS MiB | user CPU s/GiB | runs | mm / best peer |', '|---|---|--:|--:|--:|--:|--:|--:|'];
  for (const r of res.rows) {
    if (!r.samples.length) {
      lines.push(`| ${r.protocol} | ${cell(r.label)} | — | — | — | — | 0 | ${cell(r.error ?? 'not run')} |`);
      continue;
    }
    const wall = median(r.samples.map((x) => x.wallMs));
    const rss = median(r.samples.map((x) => x.peakRss));
    const q = ratio.get(r);
    const name = r.mm ? `**${r.label}**` : cell(r.label);
    lines.push(
      `| ${r.protocol} | ${name} | ${s(wall)} | ${mbps(res.totalBytes, wall)} | ${mib(rss)} | ${userPerGiB(r, res.totalBytes).toFixed(2)} | ${r.samples.length} | ${q === undefined ? '' : `**${q.toFixed(2)}**`} |`,
    );
  }
  for (const k of res.skipped) lines.push(`| ${k.protocol} | skipped | — | — | — | — | 0 | ${cell(k.reason)} |`);
  return lines.join('\n');
}

export function fixedTable(fixed: readonly FixedCost[]): string {
  const lines = ['| protocol | wall s | peak RSS MiB |', '|---|--:|--:|'];
  for (const f of fixed) lines.push(`| ${f.protocol} | ${s(f.wallMs)} | ${mib(f.peakRss)} |`);
  return lines.join('\n');
}

export function swapTable(swaps: readonly SwapFigures[]): string {
  const ms = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(2));
  const lines = [
    '| model | switch window ms (served path absent) | swap() first (nothing served) ms | swap() with backup ms | swap() + prune oldest backup ms | swaps (--keep-backups) |',
    '|---|--:|--:|--:|--:|--:|',
  ];
  for (const w of swaps) {
    lines.push(
      `| ${w.label} (${size(w.bytes)}) | ${w.window.toFixed(3)} | ${ms(w.first)} | ${ms(w.withBackup)} | ${ms(w.withPrune)} | ${w.swaps} (${w.keepBackups}) |`,
    );
  }
  return lines.join('\n');
}

export function extrasTable(res: BenchResult): string {
  const e = res.extras;
  const lines = ['| figure | value |', '|---|---|'];
  if (e.fsync) {
    const f = e.fsync;
    lines.push(
      `| pull with \`--fsync\` (${f.protocol}, c4) | ${s(f.wallMs)} s = ${mbps(res.totalBytes, f.wallMs)} MB/s (${(f.wallMs / f.baselineMs).toFixed(2)} × without), ${mib(f.peakRss)} MiB RSS |`,
    );
  }
  if (e.md5Pull) {
    lines.push(
      `| pull with an md5 manifest donefile (md5 of every file while streaming; ${e.md5Pull.protocol}, c4) | ${s(e.md5Pull.wallMs)} s = ${mbps(res.totalBytes, e.md5Pull.wallMs)} MB/s, ${mib(e.md5Pull.peakRss)} MiB RSS |`,
    );
  }
  if (e.scale) {
    const x = e.scale;
    lines.push(
      `| pull of a ${x.factor} × model (${size(x.bytes)}; ${x.protocol}, c4) | ${s(x.wallMs)} s = ${mbps(x.bytes, x.wallMs)} MB/s, **${mib(x.peakRss)} MiB** peak RSS ` +
        `(${mib(x.basePeakRss)} MiB at 1 ×) |`,
    );
  }
  if (e.incremental) {
    const i = e.incremental;
    const withManifest = ((i.fetchedBytes + i.manifestBytes) / i.changedBytes).toFixed(3);
    lines.push(
      `| \`--incremental\`, one ${mib(i.changedBytes)} MiB file changed (${i.protocol}) | fetchedBytes ${i.fetchedBytes} = **${(i.fetchedBytes / i.changedBytes).toFixed(3)} ×** ` +
        `the changed bytes (${withManifest} × with the ${i.manifestBytes} B manifest donefile); ${s(i.wallMs)} s wall; ${i.files} files served |`,
    );
  }
  return lines.join('\n');
}

export function targets(res: BenchResult): string {
  const out: string[] = [];
  const ratio = ratios(res.rows);
  for (const [r, q] of ratio) {
    const what = `${r.protocol}, ${r.label.replace('model-monitor sync ', '')}`;
    if (r.md5) out.push(`- md5-verified ≤ 1.1 × rclone + md5sum -c, ${what}: ${q.toFixed(2)} → ${q <= 1.1 ? 'met' : 'MISSED'}`);
    else out.push(`- wall ≤ 0.9 × best peer, ${what}: ${q.toFixed(2)} → ${q <= 0.9 ? 'met' : 'MISSED'}`);
    if (!r.md5 && /^(HTTP|FTP)/i.test(r.protocol)) {
      const u = userPerGiB(r, res.totalBytes);
      out.push(`- user CPU ≤ 0.5 s/GiB, ${what}: ${u.toFixed(2)} → ${u <= 0.5 ? 'met' : 'MISSED'}`);
    }
  }
  const mmRss = Math.max(0, ...res.rows.filter((r) => r.mm).flatMap((r) => r.samples.map((x) => x.peakRss)));
  out.push(`- peak RSS ≤ 120 MiB pulling the model: worst model-monitor run ${mib(mmRss)} MiB → ${mmRss <= 120 * MiB ? 'met' : 'MISSED'}`);
  for (const w of res.swaps) {
    const call = Math.max(w.first, w.withBackup);
    out.push(
      `- swap ≤ 5 ms (${w.label}): switch window ${w.window.toFixed(3)} ms → ${w.window <= 5 ? 'met' : 'MISSED'}; ` +
        `whole swap() call ${call.toFixed(2)} ms → ${call <= 5 ? 'met' : 'MISSED'}; with pruning ${w.withPrune.toFixed(2)} ms → ${w.withPrune <= 5 ? 'met' : 'MISSED'}`,
    );
  }
  const x = res.extras.scale;
  if (x) {
    const grew = x.peakRss - x.basePeakRss;
    out.push(
      `- peak RSS not growing with the model: ${mib(x.basePeakRss)} MiB at 1 ×, ${mib(x.peakRss)} MiB at ${x.factor} × (${grew >= 0 ? '+' : ''}${mib(grew)} MiB) → ${grew <= 10 * MiB ? 'met' : 'MISSED'}`,
    );
  }
  const i = res.extras.incremental;
  if (i)
    out.push(
      `- incremental ≤ 1.1 × changed bytes: ${(i.fetchedBytes / i.changedBytes).toFixed(3)} → ${i.fetchedBytes <= 1.1 * i.changedBytes ? 'met' : 'MISSED'}`,
    );
  return out.join('\n');
}

function firstLine(file: string, args: string[], pick?: RegExp): string {
  return which(file) ? (versionOf(file, args, pick) ?? '?') : 'not installed';
}

/** A Debian package's version (vsftpd prints its own to stdin). */
function debVersion(pkg: string): string {
  return versionOf('dpkg-query', ['-W', '-f', '${Version}', pkg]) ?? 'not installed';
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? '?';
  const rot = (() => {
    try {
      return readFileSync('/sys/block/vda/queue/rotational', 'utf8').trim() === '1' ? 'virtio disk (reports rotational)' : 'virtio disk (non-rotational)';
    } catch {
      return 'unknown';
    }
  })();
  const fs = firstLine('findmnt', ['-no', 'FSTYPE,SOURCE', '--target', '/tmp']).replace(/\s+/g, ' on ');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 's3rver', 'package.json'), 'utf8')) as { version: string };
  return [
    `- CPU: ${cpus().length} × ${cpu} (nproc ${cpus().length})`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; disk: ${rot}, filesystem ${fs}`,
    `- node ${process.version}; lftp ${debVersion('lftp')}; ${firstLine('rclone', ['version'])}; ` +
      `${firstLine('aws', ['--version'], /aws-cli\/\S+/)}; ${firstLine('curl', ['--version'], /curl [\d.]+/)}; ` +
      `vsftpd ${debVersion('vsftpd')}; ${firstLine('/usr/sbin/nginx', ['-v'], /nginx\/\S+/)}; ` +
      `pure-ftpd ${firstLine('/opt/pure-ftpd/usr/sbin/pure-ftpd', ['--help'], /v[\d.]+/)}; s3rver ${pkg.version}`,
  ].join('\n');
}

export function renderBench(res: BenchResult): string {
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${s(res.elapsedMs)} s in all; model ${mib(res.totalBytes)} MiB ` +
      `(1 × ${mib(res.totalBytes / 2)} MiB + 256 files); medians of the runs shown; load average ${res.load[0].toFixed(1)} at the start, ${res.load[1].toFixed(1)} at the end.`,
    '',
    machine(),
    '',
    '### Pulls',
    '',
    mainTable(res),
    '',
    '### Fixed cost of one CLI run (`sync` with no donefile: start-up, one stat, exit; median of 3)',
    '',
    fixedTable(res.fixed),
    '',
    '### Swap (`createRenameSwap().swap()`; medians)',
    '',
    swapTable(res.swaps),
    '',
    '### --fsync, md5, --incremental',
    '',
    extrasTable(res),
    '',
    '### Targets',
    '',
    targets(res),
  ].join('\n');
}

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in RESULTS.md (appends the block if absent). */
export async function writeSection(name: string, body: string): Promise<void> {
  const begin = `<!-- ${name}:begin (generated by npm run ${name === 'bench' ? 'bench' : `bench:${name}`}) -->`;
  const end = `<!-- ${name}:end -->`;
  const old = await readFile(RESULTS, 'utf8').catch(() => '# Benchmark results\n');
  const block = `${begin}\n${body}\n${end}`;
  const re = new RegExp(`<!-- ${name}:begin[^>]*-->[\\s\\S]*?<!-- ${name}:end -->`);
  await writeFile(RESULTS, re.test(old) ? old.replace(re, () => block) : `${old.trimEnd()}\n\n${block}\n`);
}
