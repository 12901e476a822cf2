import type { Readable } from 'node:stream';
import type { Logger } from './log.js';

/** execa costs ~0.2 s to import: loaded by the first command run, never by a pull that runs none. */
export const execaModule = () => import('execa');

/** What is kept of a command's stdout and stderr when they are not parsed: the last few KiB, enough to say why. */
export const TAIL_BYTES = 4096;
/** After the command exits, its pipes are read this much longer, then let go (a child it put in the background may hold them). */
const DRAIN_MS = 250;

export interface RunOptions {
  /** Required: every child process has a deadline. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Extra environment, over the parent's less model-monitor's own MODEL_MONITOR_* variables. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Keep stdout whole, up to this many bytes (output that is parsed); default: only its last TAIL_BYTES. */
  readonly stdoutLimit?: number;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How a command failed. It holds no argv (a hadoop -D hadoop.job.ugi= carries a
 * password) and at most TAIL_BYTES of each output stream.
 */
export class ExecFailure extends Error {
  override readonly name = 'ExecFailure';
  constructor(
    message: string,
    readonly detail: {
      readonly exitCode?: number;
      readonly signal?: string;
      readonly timedOut: boolean;
      readonly isCanceled: boolean;
      /** The process could not be started (ENOENT, EACCES). */
      readonly code?: string;
      readonly stdout: string;
      readonly stderr: string;
    },
  ) {
    super(message);
  }
  get exitCode(): number | undefined {
    return this.detail.exitCode;
  }
  get signal(): string | undefined {
    return this.detail.signal;
  }
  get timedOut(): boolean {
    return this.detail.timedOut;
  }
  get isCanceled(): boolean {
    return this.detail.isCanceled;
  }
  get code(): string | undefined {
    return this.detail.code;
  }
  get stdout(): string {
    return this.detail.stdout;
  }
  get stderr(): string {
    return this.detail.stderr;
  }
}

export function isExecFailure(err: unknown): err is ExecFailure {
  return err instanceof ExecFailure;
}

/**
 * The environment a child gets: ours less every MODEL_MONITOR_* variable (that is
 * our configuration, passwords and tokens included, not the hook's business), plus `extra`.
 */
export function childEnv(extra: Readonly<Record<string, string>> = {}, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined && !k.startsWith('MODEL_MONITOR_')) out[k] = v;
  return { ...out, ...extra };
}

/** Collects a stream's bytes: all of them up to `limit`, or only the last `limit` when `tail`. */
class Collector {
  private parts: Buffer[] = [];
  private size = 0;
  overflow = false;
  constructor(
    private readonly limit: number,
    private readonly tail: boolean,
  ) {}
  add(b: Buffer): void {
    if (!this.tail && this.size + b.length > this.limit) {
      this.overflow = true;
      return;
    }
    this.parts.push(b);
    this.size += b.length;
    while (this.tail && this.size - this.parts[0]!.length >= this.limit) this.size -= this.parts.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.parts);
    return all
      .subarray(Math.max(0, all.length - this.limit))
      .toString('utf8')
      .replace(/\n$/, '');
  }
}

/** Reads a child's pipe into `c`; once the child has exited, gives it DRAIN_MS more and then lets go. */
function drain(stream: Readable | null, c: Collector, exited: Promise<void>): Promise<void> {
  if (!stream) return Promise.resolve();
  stream.on('data', (b: Buffer) => c.add(b));
  return new Promise<void>((resolve) => {
    stream.once('close', () => resolve());
    stream.once('end', () => resolve());
    stream.once('error', () => resolve());
    void exited.then(() => setTimeout(() => (stream.destroy(), resolve()), DRAIN_MS).unref());
  });
}

/**
 * The only execa call site (with exec-stream.ts). argv, never a shell unless
 * the caller runs one; a deadline and a cancel signal always; SIGKILL 2 s after
 * SIGTERM. It resolves when the process exits: a child left running in the
 * background holding the pipes (`sleep 100 & echo started`) is not waited for.
 * Output is read by us, not buffered by execa: a hook printing 100 MB costs
 * TAIL_BYTES. Throws ExecFailure on a non-zero exit, a timeout or a cancel.
 */
export async function run(file: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  o.log.debug({ event: 'exec', file, argc: args.length }, 'run');
  const { execa } = await execaModule();
  const sub = execa(file, args, {
    timeout: o.timeoutMs,
    cancelSignal: o.signal,
    forceKillAfterDelay: 2000,
    env: childEnv(o.env),
    extendEnv: false,
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    stdin: 'ignore',
    buffer: false,
    reject: false,
  });
  const out = new Collector(o.stdoutLimit ?? TAIL_BYTES, o.stdoutLimit === undefined);
  const err = new Collector(TAIL_BYTES, true);
  const exited = new Promise<void>((resolve) => sub.once('exit', () => resolve()).once('error', () => resolve()));
  const [r] = await Promise.all([sub, drain(sub.stdout, out, exited), drain(sub.stderr, err, exited)]);
  const detail = {
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(r.signal !== undefined ? { signal: r.signal } : {}),
    ...(typeof r.code === 'string' ? { code: r.code } : {}),
    timedOut: r.timedOut,
    isCanceled: r.isCanceled,
    stdout: out.text(),
    stderr: err.text(),
  };
  if (out.overflow) throw new ExecFailure(`output larger than ${o.stdoutLimit} bytes`, { ...detail, timedOut: false });
  if (r.failed || r.exitCode !== 0) throw new ExecFailure(describeFailure(detail, o.timeoutMs), detail);
  return { exitCode: 0, stdout: detail.stdout, stderr: detail.stderr };
}

/** One line saying how the command ended: timed out, cancelled, exit code or signal. */
export function describeFailure(d: ExecFailure['detail'], timeoutMs: number): string {
  if (d.timedOut) return `timed out after ${timeoutMs / 1000}s`;
  if (d.isCanceled) return 'was cancelled';
  if (d.code !== undefined) return `could not be started (${d.code})`;
  if (d.exitCode !== undefined) return `exited with code ${d.exitCode}`;
  return `was killed by ${d.signal ?? 'a signal'}`;
}

/**
 * The user's command runs as `/bin/sh -c CMD` under this fixed wrapper (CMD is
 * passed as `$1`, never spliced into the script). dash forks for every command
 * of `-c`, so killing the shell on a deadline would leave `curl` or `sleep`
 * running. The wrapper starts CMD in its own process group (setsid, where
 * there is one) and on SIGTERM (run()'s timeout or cancel) kills that whole group.
 */
export const EXEC_WRAPPER = [
  'if command -v setsid >/dev/null 2>&1; then setsid -w /bin/sh -c "$1" & else /bin/sh -c "$1" & fi',
  'pid=$!',
  `trap 'kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; exit 143' TERM INT HUP`,
  'wait "$pid"',
].join('\n');

/**
 * A shell command line the user wrote (`--exec`, `--validate`): `/bin/sh -c`
 * under EXEC_WRAPPER, so a deadline or cancel kills everything it started.
 */
export function runShell(command: string, o: RunOptions): Promise<RunResult> {
  return run('/bin/sh', ['-c', EXEC_WRAPPER, 'model-monitor', command], o);
}

/** The last line(s) of a command's output for a message: at most `max` characters. */
export function tailText(s: string | undefined, max = 200): string {
  const t = (s ?? '').trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}
