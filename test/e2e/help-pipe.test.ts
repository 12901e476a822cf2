/**
 * `model-monitor --help | head -1`: a reader that goes away is not a crash.
 * The output pipe is closed before the CLI writes (what `head` does after its
 * first line, made certain), so every write meets EPIPE: no stack trace, exit 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';

function closedStdout(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the read end is gone before the child writes a byte
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('output into a closed pipe', () => {
  for (const args of [['--help'], ['sync', '--help'], ['--version']]) {
    it(`model-monitor ${args.join(' ')}: exit 0, nothing on stderr`, async () => {
      const r = await closedStdout(args);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });
  }

  it('as the user types it: `model-monitor --help | head -1` prints the usage line, exit 0', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" --help | head -1`], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^Usage: model-monitor /);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
