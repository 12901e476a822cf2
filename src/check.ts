/**
 * check: pre-swap gates. Disk space before anything is downloaded; the
 * --validate command on the staged model (the "beforePublish" hook).
 */
import { statfs } from 'node:fs/promises';
import { NoSpaceError, ValidateError } from './errors.js';
import { isExecFailure, runShell, tailText } from './exec.js';
import type { Logger } from './log.js';

/** Free space needed: the model, 5 % and 64 MiB of margin. */
export function spaceNeeded(bytes: number): number {
  return Math.ceil(bytes * 1.05) + 64 * 1024 * 1024;
}

export async function checkDiskSpace(dir: string, bytes: number): Promise<void> {
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const need = spaceNeeded(bytes);
  if (free < need) {
    throw new NoSpaceError(
      `not enough free space in ${dir}: ${mib(free)} free, the model needs ${mib(bytes)} (+ margin: ${mib(need)})`,
    );
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** Runs the user's shell command with $MODEL_DIR set; non-zero exit or timeout rejects the model. */
export async function runValidate(
  cmd: string,
  modelDir: string,
  version: string,
  o: { timeoutMs: number; signal: AbortSignal; log: Logger },
): Promise<void> {
  try {
    const r = await runShell(cmd, {
      timeoutMs: o.timeoutMs,
      signal: o.signal,
      log: o.log,
      env: { MODEL_DIR: modelDir, MODEL_VERSION: version },
      cwd: modelDir,
    });
    o.log.info({ event: 'validated', version, output: r.stdout.slice(-500) }, 'validate command accepted the model');
  } catch (err) {
    if (isExecFailure(err)) {
      const tail = tailText(err.stderr.split('\n').slice(-3).join(' | '));
      throw new ValidateError(`--validate rejected ${version}: command ${err.message}${tail ? `: ${tail}` : ''}`, { cause: err });
    }
    throw err;
  }
}
