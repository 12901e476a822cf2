/**
 * One protocol's measurements: model-monitor (`sync`, --concurrency 4 and 8)
 * and each peer tool pull the same model from the same server, in interleaved
 * rounds (so drift hits every tool alike), each into a fresh directory that is
 * checked file by file, deleted, and flushed (`sync`) before the next run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTree, manifestOf, type Dataset } from './data.js';
import type { Peer, Target } from './peers.js';
import { measure, syncDisks, which, type Cmd, type Measured } from './proc.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'model-monitor.js');
const RUN_TIMEOUT_MS = 5 * 60_000;

export interface Sample {
  readonly wallMs: number;
  readonly peakRss: number;
  readonly userMs: number;
}

export interface Row {
  readonly protocol: string;
  readonly tool: string;
  readonly label: string;
  readonly mm: boolean;
  /** An md5-verified pull: compared with the other verified rows only. */
  readonly md5?: boolean;
  readonly samples: Sample[];
  error?: string;
}

/** A way to pull the model into `dir` (a fresh empty dir); returns where the files landed. */
interface Runner {
  readonly row: Row;
  cmd(dir: string): { cmd: Cmd; out: string };
}

/** `model-monitor sync` argv for `target` into `localPath`. */
export function mmSync(target: Target, localPath: string, extra: readonly string[] = [], names = { model: 'model', donefile: 'donefile' }): Cmd {
  return {
    // Executed as users run it (npx, a global install, systemd): the bin's own start-up line applies.
    file: BIN,
    args: ['sync', ...target.mmArgs, '--remote_model_name', names.model, '--remote_donefile_name', names.donefile, '--local_path', localPath, ...extra],
    env: { ...target.mmEnv, MODEL_MONITOR_LOG_FORMAT: 'json' },
    cwd: ROOT,
  };
}

/** The `updated` event of a sync run, or null. */
export function updatedEvent(m: Measured): { bytes: number; fetchedBytes: number; files: number } | null {
  for (const line of m.stdout.split('\n')) {
    if (!line.includes('"updated"')) continue;
    try {
      const l = JSON.parse(line) as { event?: string; bytes: number; fetchedBytes: number; files: number };
      if (l.event === 'updated') return l;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

/**
 * A peer's pull followed by `md5sum -c` of the tree against the model's
 * manifest, in 2 parallel halves (2 cores): what a verified pull costs a user
 * scripting it. model-monitor's verified row hashes inline (--verify md5).
 */
function verified(p: Peer, manifest: string): Peer {
  const script =
    'm="$1"; d="$2"; shift 2; "$@" || exit $?; cd "$d" || exit 1; ' +
    'sed -n \'1~2p\' "$m" | md5sum -c --quiet - & a=$!; sed -n \'2~2p\' "$m" | md5sum -c --quiet - & b=$!; wait $a || exit 1; wait $b || exit 1';
  return {
    ...p,
    label: `${p.label} + md5sum -c (2-way)`,
    cmd: (dest) => {
      const c = p.cmd(dest);
      return { ...c, file: 'bash', args: ['-c', script, 'verified', manifest, dest, c.file, ...c.args] };
    },
  };
}

function runners(protocol: string, target: Target, manifest: string): Runner[] {
  const mm = (c: number, md5 = false): Runner => ({
    row: { protocol, tool: 'model-monitor', label: `model-monitor sync --concurrency ${c}${md5 ? ' --verify md5' : ''}`, mm: true, md5, samples: [] },
    cmd: (dir) => ({ cmd: mmSync(target, dir, ['--concurrency', String(c), ...(md5 ? ['--verify', 'md5'] : [])]), out: path.join(dir, 'model') }),
  });
  const peer = (p: Peer, md5 = false): Runner => {
    const row: Row = { protocol, tool: p.tool, label: p.label, mm: false, md5, samples: [] };
    const missing = p.needs.filter((t) => which(t) === null);
    if (missing.length) row.error = `not installed: ${missing.join(', ')} (run .ci/install-bench.sh)`;
    return { row, cmd: (dir) => ({ cmd: p.cmd(path.join(dir, 'out')), out: path.join(dir, 'out') }) };
  };
  const rclone = target.peers.find((p) => p.tool === 'rclone');
  return [mm(4), mm(8), ...target.peers.map((p) => peer(p)), mm(8, true), ...(rclone ? [peer(verified(rclone, manifest), true)] : [])];
}

/** Runs `cmd` into a fresh dir under `work`, checks the tree, cleans up and flushes. */
export async function pullOnce(work: string, data: Dataset, make: (dir: string) => { cmd: Cmd; out: string }): Promise<{ m: Measured; bad: string | null }> {
  const dir = await mkdtemp(path.join(work, 'run-'));
  try {
    const { cmd, out } = make(dir);
    syncDisks();
    const m = await measure(cmd, { timeoutMs: RUN_TIMEOUT_MS });
    const bad = m.code !== 0 ? `exit ${m.code}: ${(m.stderr || m.stdout).trim().split('\n').slice(-3).join(' | ')}` : await checkTree(out, data);
    return { m, bad };
  } finally {
    await rm(dir, { recursive: true, force: true });
    syncDisks();
  }
}

export interface MatrixOptions {
  readonly work: string;
  readonly maxRounds: number;
  /** performance.now() after which no new round starts. */
  readonly deadline: number;
  readonly log: (s: string) => void;
}

/** Interleaved rounds over every runner; a runner that fails once is not run again. */
export async function runMatrix(protocol: string, target: Target, data: Dataset, o: MatrixOptions): Promise<Row[]> {
  const manifest = path.join(o.work, 'manifest.md5');
  await writeFile(manifest, manifestOf(data.files));
  const all = runners(protocol, target, manifest);
  let lastRound = 0;
  for (let round = 1; round <= o.maxRounds; round++) {
    if (round > 1 && performance.now() + lastRound > o.deadline) break;
    const t0 = performance.now();
    for (const r of all) {
      if (r.row.error) continue;
      const { m, bad } = await pullOnce(o.work, data, r.cmd);
      if (bad) {
        r.row.error = bad;
        o.log(`  ${r.row.label}: FAILED ${bad}`);
        continue;
      }
      r.row.samples.push({ wallMs: m.wallMs, peakRss: m.peakRss, userMs: m.userMs });
      o.log(
        `  round ${round} ${r.row.label}: ${(m.wallMs / 1000).toFixed(2)} s, ${(m.peakRss / 2 ** 20).toFixed(0)} MiB, user ${(m.userMs / 1000).toFixed(2)} s`,
      );
    }
    lastRound = performance.now() - t0;
  }
  return all.map((r) => r.row);
}

export interface FixedCost {
  readonly protocol: string;
  readonly wallMs: number;
  readonly peakRss: number;
}

/**
 * What every CLI run pays before and after any transfer: `sync` against a
 * donefile that is not there (start-up, config, lock, one stat, exit 1).
 */
export async function fixedCost(protocol: string, target: Target, work: string): Promise<FixedCost | null> {
  const samples: Sample[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = await mkdtemp(path.join(work, 'fixed-'));
    try {
      const m = await measure(mmSync(target, dir, [], { model: 'model', donefile: 'no-such-donefile' }), { timeoutMs: 60_000 });
      if (m.code !== 1 || !m.stdout.includes('"no-donefile"')) return null;
      samples.push({ wallMs: m.wallMs, peakRss: m.peakRss, userMs: m.userMs });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { protocol, wallMs: median(samples.map((x) => x.wallMs)), peakRss: Math.max(...samples.map((x) => x.peakRss)) };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
