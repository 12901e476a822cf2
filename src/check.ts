/**
 * check: pre-swap gates. Disk space before anything is downloaded; the
 * --validate command on the staged model (the "beforePublish" hook).
 */
import { statfs } from 'node:fs/promises';
import { NoSpaceError, ValidateError } from './errors.js';
import { isExecFailure, runShell, tailText } from './exec.js';
import type { Logger } from './log.js';

const MIB = 1024 * 1024;

/**
 * Free space needed: the model, 5 %, and a margin that scales with the
 * filesystem: 1 % of its size, between 256 KiB and 64 MiB (a fixed 64 MiB made
 * any filesystem under 64 MiB unusable).
 */
export function spaceNeeded(bytes: number, fsBytes = Number.POSITIVE_INFINITY): number {
  const margin = Math.min(64 * MIB, Math.max(256 * 1024, Math.floor(fsBytes / 100)));
  return Math.ceil(bytes * 1.05) + margin;
}

export async function checkDiskSpace(dir: string, bytes: number, files = 0): Promise<void> {
  const s = await statfs(dir);
  const free = s.bavail * s.bsize;
  const need = spaceNeeded(bytes, s.blocks * s.bsize);
  if (free < need) {
    throw new NoSpaceError(`not enough free space in ${dir}: ${mib(free)} free, the model needs ${mib(bytes)} (+ margin: ${mib(need)})`);
  }
  // Inodes too (statfs reports 0 total where a filesystem has no fixed count): a file and its directory each.
  if (s.files > 0 && s.ffree < files * 2 + 16) {
    throw new NoSpaceError(`not enough free inodes in ${dir}: ${s.ffree} free, the model has ${files} files`);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** Runs the user's shell command with $MODEL_DIR set; non-zero exit or timeout rejects the model. */
export async function runValidate(cmd: string, modelDir: string, version: string, o: { timeoutMs: number; signal: AbortSignal; log: Logger }): Promise<void> {
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
