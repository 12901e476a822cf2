/**
 * Runs one command as a child process and measures what the bench compares:
 * wall time (spawn to exit) and peak RSS. Every tool, model-monitor included,
 * is measured the same way: under GNU `time -f %M` (the largest single
 * process's max RSS, exact) while a sampler sums VmRSS over the whole process
 * tree every 50 ms (what a shell pipeline of parallel curls costs together).
 * Peak = the larger of the two. User CPU is GNU time's %U: the process, its
 * threads (model-monitor's wire workers) and the children it waited for.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const GNU_TIME = '/usr/bin/time';
const SAMPLE_MS = 50;

export interface Measured {
  readonly code: number | null;
  readonly wallMs: number;
  /** Bytes. */
  readonly peakRss: number;
  /** User CPU time (GNU time %U), ms. */
  readonly userMs: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Cmd {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** Children of `pid`, from every thread's children file (node forks from its loop thread, python from any). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS over `root`'s descendants (not `root` itself: that is GNU time), and their largest VmHWM. */
function sampleTree(root: number): { sumKb: number; hwmKb: number } {
  let sumKb = 0;
  let hwmKb = 0;
  const todo = childrenOf(root);
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    sumKb += statusKb(pid, 'VmRSS');
    hwmKb = Math.max(hwmKb, statusKb(pid, 'VmHWM'));
    todo.push(...childrenOf(pid));
  }
  return { sumKb, hwmKb };
}

/** Runs `cmd` under GNU time with the RSS sampler; never throws for a non-zero exit. */
export async function measure(cmd: Cmd, o: { timeoutMs: number }): Promise<Measured> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'mm-bench-time-'));
  const timeFile = path.join(tmp, 'rss');
  const t0 = performance.now();
  const child = spawn(GNU_TIME, ['-o', timeFile, '-f', '%M %U', cmd.file, ...cmd.args], {
    env: { ...process.env, ...cmd.env },
    cwd: cmd.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
  let peakKb = 0;
  const sampler = setInterval(() => {
    if (child.pid === undefined) return;
    const s = sampleTree(child.pid);
    peakKb = Math.max(peakKb, s.sumKb, s.hwmKb);
  }, SAMPLE_MS);
  const killer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => {
    clearInterval(sampler);
    clearTimeout(killer);
  });
  const wallMs = performance.now() - t0;
  const [kb, user] = (await readFile(timeFile, 'utf8').catch(() => '0 0')).trim().split('\n').pop()!.split(' ').map(Number);
  await rm(tmp, { recursive: true, force: true });
  const timeKb = Number.isFinite(kb) ? kb! : 0;
  return { code, wallMs, peakRss: Math.max(peakKb, timeKb) * 1024, userMs: Number.isFinite(user) ? user! * 1000 : NaN, stdout, stderr };
}

/** Flushes dirty pages so one run's writeback does not slow the next (never inside a timed run). */
export function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** Whether `tool` is on PATH (or an absolute path that exists). */
export function which(tool: string): string | null {
  if (tool.startsWith('/')) return existsSync(tool) ? tool : null;
  const r = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', tool], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** First line of `tool --version`-style output, or null. */
export function versionOf(file: string, args: readonly string[], pick: RegExp = /\S.*/): string | null {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 20_000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return pick.exec(text)?.[0]?.trim() ?? null;
}

/** Runs a command to completion (setup steps, not measured); throws on failure. */
export function runOrThrow(file: string, args: readonly string[], env?: Readonly<Record<string, string>>): string {
  const r = spawnSync(file, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
