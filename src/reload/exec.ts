/**
 * `--exec CMD`: run the user's command after each swap. It is a shell command
 * line the user wrote (pipes, `&&`, quoting), so it runs as
 * `/bin/sh -c CMD` through src/exec.ts: the one place a shell is used on
 * purpose. It gets `MODEL_DIR`, `MODEL_VERSION` and `PREVIOUS_VERSION` in its
 * environment, its own deadline (`--exec-timeout`), and a non-zero exit, a
 * timeout or a cancel becomes a ReloadError with the ExecFailure (output tails only) as `cause`.
 */
import { ReloadError } from '../errors.js';
import { describeFailure, isExecFailure, runShell, tailText } from '../exec.js';
import type { ReloadEvent, ReloadTrigger } from './types.js';

export interface ExecTriggerOptions {
  /** The shell command line, as typed. */
  readonly command: string;
  /** Deadline for one run (`--exec-timeout`). */
  readonly timeoutMs: number;
}

/** One line saying how the command ended (exit code, signal, timeout or cancel) and the end of its stderr. */
export function describeExecFailure(err: unknown, timeoutMs: number): string {
  if (!isExecFailure(err)) return `could not run: ${(err as Error)?.message ?? String(err)}`;
  const stderr = tailText(err.stderr);
  const why = describeFailure(err.detail, timeoutMs);
  return stderr ? `${why}: ${stderr}` : why;
}

export function execEnv(e: ReloadEvent): Record<string, string> {
  return { MODEL_DIR: e.modelDir, MODEL_VERSION: e.version, PREVIOUS_VERSION: e.previousVersion ?? '' };
}

export function createExecTrigger(o: ExecTriggerOptions): ReloadTrigger {
  return {
    // The command itself is not in the name: it may carry a token (curl -H "Authorization: …").
    name: 'exec',
    async fire(e, ctx) {
      const log = ctx.log.child({ component: 'reload', trigger: 'exec' });
      try {
        const r = await runShell(o.command, { timeoutMs: o.timeoutMs, signal: ctx.signal, log, env: execEnv(e) });
        log.debug({ event: 'exec-done', exitCode: r.exitCode, version: e.version }, 'exec reload command succeeded');
      } catch (err) {
        const msg = `--exec command ${describeExecFailure(err, o.timeoutMs)}`;
        log.warn({ event: 'exec-failed', version: e.version, exitCode: isExecFailure(err) ? (err.exitCode ?? null) : null }, msg);
        throw new ReloadError(msg, { cause: err });
      }
    },
  };
}
