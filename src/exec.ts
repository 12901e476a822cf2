import type { ExecaError } from 'execa';
import type { Logger } from './log.js';

/** execa costs ~0.2 s to import: loaded by the first command run, never by a pull that runs none. */
export const execaModule = () => import('execa');

/** Whether `err` is execa's error for a failed run (without loading execa to ask). */
export function isExecaError(err: unknown): err is ExecaError {
  return err instanceof Error && err.name === 'ExecaError';
}

export interface RunOptions {
  /** Required: every child process has a deadline. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Extra environment (merged over process.env). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Run through /bin/sh -c (only when the user wrote a shell command). */
  readonly shell?: boolean;
  /** Stream stdout lines (e.g. `hadoop fs -ls` of a big dir) instead of buffering. */
  readonly stdin?: 'ignore';
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The only execa call site. argv, never a shell unless asked; a timeout and a
 * cancel signal always; SIGKILL 2 s after SIGTERM. Throws ExecaError (with
 * exitCode, timedOut, isCanceled) on a non-zero exit; callers wrap it as the
 * `cause` of their own MonitorError.
 */
export async function run(file: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  o.log.debug({ event: 'exec', file, argc: args.length }, 'run');
  const { execa } = await execaModule();
  const r = await execa(file, args, {
    timeout: o.timeoutMs,
    cancelSignal: o.signal,
    forceKillAfterDelay: 2000,
    env: o.env ? { ...o.env } : {},
    extendEnv: true,
    cwd: o.cwd,
    shell: o.shell === true,
    stdin: 'ignore',
    reject: true,
    stripFinalNewline: true,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { exitCode: r.exitCode ?? 0, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * The user's command runs as `/bin/sh -c CMD` under this fixed wrapper (CMD is
 * passed as `$1`, never spliced into the script). dash forks for every command
 * of `-c`, so killing the shell on a deadline would leave `curl` or `sleep`
 * running and holding stdout open, and run() would wait for it. The wrapper
 * starts CMD in its own process group (setsid, where there is one) and on
 * SIGTERM (run()'s timeout or cancel) kills that whole group.
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
