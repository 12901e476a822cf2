/**
 * `npm run bench:publish`: `model-monitor publish` of the bench model (1 GiB:
 * one 512 MiB file, chunk-indexed, and 256 × 2 MiB) against the tools a
 * producer would otherwise script, same server, same data, same run: `lftp
 * mirror -R` and `rclone copy` to vsftpd, `aws s3 sync` and `rclone copy` to
 * s3rver, `cp -r` to a local dir. Wall time and peak RSS, interleaved rounds,
 * each into a fresh remote path (nothing to skip). Writes bench/RESULTS.md's
 * `publish` section. Knobs: MM_BENCH_MIB (default 1024), MM_BENCH_ROUNDS
 * (default 2), MM_BENCH_ONLY (targets whose name contains it), MM_BENCH_NO_WRITE=1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { startTarget, targetMissing, S3_ENV, type Target, type TargetKind } from '../test/helpers/targets.js';
import { buildDataset, type Dataset } from './data.js';
import { BIN, median, ROOT } from './matrix.js';
import { measure, runOrThrow, syncDisks, which, type Cmd } from './proc.js';
import { machine, writeSection } from './report.js';

const envNum = (k: string, d: number) => (Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
const ROUNDS = envNum('MM_BENCH_ROUNDS', 2);
const log = (s: string) => console.log(s);

interface Tool {
  readonly label: string;
  readonly needs: readonly string[];
  readonly mm: boolean;
  /** The command that uploads `model` to a fresh remote path named `dest` (a plain name). */
  cmd(model: string, dest: string): Cmd;
}

interface Row {
  readonly target: string;
  readonly tool: Tool;
  readonly samples: { wallMs: number; peakRss: number }[];
  error?: string;
}

const mmPublish = (t: Target, extra: string[] = []): Tool => ({
  label: ['model-monitor publish', ...extra].join(' '),
  needs: [],
  mm: true,
  cmd: (model, dest) => ({
    file: BIN,
    args: ['publish', model, ...t.args, '--remote_model_name', dest, '--remote_donefile_name', `${dest}.done`, '--log-level', 'warn', ...extra],
    env: { ...t.env, MODEL_MONITOR_LOG_FORMAT: 'json' },
    cwd: ROOT,
  }),
});

/**
 * What a careful producer script does to give monitors an md5 donefile: md5sum
 * every file (one more read of the model, which publish does while uploading),
 * then upload with `peer`. The fair peer for publish's wall time.
 */
function withMd5sum(peer: Tool): Tool {
  return {
    label: `md5sum + ${peer.label}`,
    needs: [...peer.needs, 'md5sum', 'bash'],
    mm: false,
    cmd: (model, dest) => {
      const c = peer.cmd(model, dest);
      const script = 'set -euo pipefail; m="$1"; shift; (cd "$m" && find . -type f -print0 | xargs -0 md5sum > /dev/null); exec "$@"';
      return { ...c, file: 'bash', args: ['-c', script, 'bash', model, c.file, ...c.args] };
    },
  };
}

function ftpTools(t: Target): Tool[] {
  const port = /:(\d+)\//.exec(t.args[1]!)![1]!;
  const lftp: Tool = {
    label: 'lftp mirror -R -P 8',
    needs: ['lftp'],
    mm: false,
    cmd: (model, dest) => ({
      file: 'lftp',
      args: ['-c', `set cmd:fail-exit yes; set net:max-retries 2; open -u anonymous,anonymous@ -p ${port} 127.0.0.1; mirror -R -P 8 ${model} /pub/${dest}`],
    }),
  };
  return [
    mmPublish(t),
    mmPublish(t, ['--concurrency', '8']),
    lftp,
    withMd5sum(lftp),
    {
      label: 'rclone copy --transfers 8',
      needs: ['rclone'],
      mm: false,
      cmd: (model, dest) => {
        const pass = runOrThrow('rclone', ['obscure', 'anonymous@']).trim();
        return {
          file: 'rclone',
          args: [
            'copy',
            model,
            `:ftp:/pub/${dest}`,
            '--ftp-host',
            '127.0.0.1',
            '--ftp-port',
            port,
            '--ftp-user',
            'anonymous',
            '--ftp-pass',
            pass,
            '--transfers',
            '8',
            '-q',
          ],
        };
      },
    },
  ];
}

function s3Tools(t: Target): Tool[] {
  const ep = t.args[t.args.indexOf('--s3-endpoint') + 1]!;
  const env = { ...S3_ENV, AWS_CA_BUNDLE: '', AWS_DEFAULT_REGION: 'us-east-1' };
  const rcloneFlags = [
    '--s3-provider',
    'Other',
    '--s3-endpoint',
    ep,
    '--s3-access-key-id',
    'S3RVER',
    '--s3-secret-access-key',
    'S3RVER',
    '--s3-region',
    'us-east-1',
  ];
  const aws: Tool = {
    label: 'aws s3 sync (default 10 requests)',
    needs: ['aws'],
    mm: false,
    cmd: (model, dest) => ({
      file: 'aws',
      args: ['s3', 'sync', model, `s3://models/root/${dest}`, '--endpoint-url', ep, '--only-show-errors', '--no-progress'],
      env,
    }),
  };
  return [
    mmPublish(t),
    mmPublish(t, ['--concurrency', '8']),
    aws,
    withMd5sum(aws),
    {
      label: 'rclone copy --transfers 8',
      needs: ['rclone'],
      mm: false,
      cmd: (model, dest) => ({ file: 'rclone', args: ['copy', model, `:s3:models/root/${dest}`, ...rcloneFlags, '--transfers', '8', '-q'], env }),
    },
  ];
}

function fileTools(t: Target): Tool[] {
  const cp: Tool = { label: 'cp -r', needs: ['cp'], mm: false, cmd: (model, dest) => ({ file: 'cp', args: ['-r', model, path.join(t.disk!, dest)] }) };
  return [mmPublish(t), cp, withMd5sum(cp)];
}

const targets: { name: string; kind: TargetKind; tools: (t: Target) => Tool[] }[] = [
  { name: 'FTP (vsftpd)', kind: 'vsftpd', tools: ftpTools },
  { name: 'S3 (s3rver)', kind: 's3rver', tools: s3Tools },
  { name: 'local dir', kind: 'file', tools: fileTools },
];

async function runTarget(name: string, t: Target, tools: Tool[], data: Dataset): Promise<Row[]> {
  const rows: Row[] = tools.map((tool) => ({ target: name, tool, samples: [] }));
  for (const r of rows) {
    const missing = r.tool.needs.filter((x) => which(x) === null);
    if (missing.length) r.error = `not installed: ${missing.join(', ')} (run .ci/install-bench.sh)`;
  }
  const model = path.join(data.root, 'models', 'model');
  let n = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const r of rows) {
      if (r.error) continue;
      const dest = `run${++n}`;
      syncDisks();
      const m = await measure(r.tool.cmd(model, dest), { timeoutMs: 10 * 60_000 });
      if (m.code !== 0) {
        r.error = `exit ${m.code}: ${(m.stderr || m.stdout).trim().split('\n').slice(-2).join(' | ')}`;
        log(`  ${r.tool.label}: FAILED ${r.error}`);
        continue;
      }
      r.samples.push({ wallMs: m.wallMs, peakRss: m.peakRss });
      log(`  round ${round} ${r.tool.label}: ${(m.wallMs / 1000).toFixed(2)} s, ${(m.peakRss / 2 ** 20).toFixed(0)} MiB`);
      if (t.disk) await rm(path.join(t.disk, dest), { recursive: true, force: true });
      if (t.disk) await rm(path.join(t.disk, `${dest}.done`), { force: true });
    }
  }
  return rows;
}

function render(rows: readonly Row[], data: Dataset, load: [number, number], skipped: string[]): string {
  const mb = data.totalBytes / 1e6;
  const best = new Map<string, number>();
  for (const r of rows)
    if (!r.tool.mm && r.samples.length) best.set(r.target, Math.min(best.get(r.target) ?? Infinity, median(r.samples.map((s) => s.wallMs))));
  const lines = rows.map((r) => {
    if (!r.samples.length) return `| ${r.target} | ${r.tool.label} | ${r.error ?? 'no run'} | | | | |`;
    const wall = median(r.samples.map((s) => s.wallMs));
    const rss = Math.max(...r.samples.map((s) => s.peakRss));
    const ratio = r.tool.mm && best.has(r.target) ? `**${(wall / best.get(r.target)!).toFixed(2)}**` : '';
    return `| ${r.target} | ${r.tool.mm ? `**${r.tool.label}**` : r.tool.label} | ${(wall / 1000).toFixed(2)} | ${(mb / (wall / 1000)).toFixed(0)} | ${(rss / 2 ** 20).toFixed(0)} | ${r.samples.length} | ${ratio} |`;
  });
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; model ${(data.totalBytes / 2 ** 20).toFixed(0)} MiB (1 file of half the model, chunk-indexed, + 256 files); medians; load average ${load[0].toFixed(1)} at the start, ${load[1].toFixed(1)} at the end.`,
    '',
    machine(),
    '',
    '| target | tool | wall s | MB/s | peak RSS MiB | runs | mm / best peer |',
    '|---|---|--:|--:|--:|--:|--:|',
    ...lines,
    ...(skipped.length ? ['', ...skipped.map((s) => `- skipped: ${s}`)] : []),
  ].join('\n');
}

it('bench: publish vs lftp mirror -R, rclone copy, aws s3 sync', async () => {
  const load0 = loadavg()[0]!;
  const work = await mkdtemp(path.join(tmpdir(), 'mm-bench-pub-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  try {
    log(`building the model in ${work} …`);
    const data = await buildDataset(path.join(work, 'data'));
    const only = process.env.MM_BENCH_ONLY?.toLowerCase();
    for (const tg of targets.filter((x) => !only || x.name.toLowerCase().includes(only))) {
      const why = targetMissing(tg.kind);
      if (why) {
        skipped.push(`${tg.name}: ${why}`);
        continue;
      }
      log(`${tg.name} …`);
      const t = await startTarget(tg.kind);
      try {
        rows.push(...(await runTarget(tg.name, t, tg.tools(t), data)));
      } finally {
        await t.close();
      }
    }
    const text = render(rows, data, [load0, loadavg()[0]!], skipped);
    log(`\n${text}\n`);
    if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('publish', text);
    expect(rows.some((r) => r.tool.mm && r.samples.length > 0)).toBe(true);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
