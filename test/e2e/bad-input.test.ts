/** Bad input: exit 2 with one line naming the flag, before any network or disk work. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';

let cwd: string;
beforeAll(async () => (cwd = await mkdtemp(path.join(tmpdir(), 'mm-bad-'))));
afterAll(async () => rm(cwd, { recursive: true, force: true }));

const paddle = ['--remote_path', '/', '--remote_model_name', 'm', '--remote_donefile_name', 'donefile', '--local_path', '.'];

describe('bad input exits 2 naming the flag', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown --type', ['--type', 'gopher', ...paddle], /--type/],
    ['--type ftp without a host', ['--type', 'ftp', ...paddle], /--ftp-host/],
    ['non-numeric --interval', ['--type', 'file', ...paddle, '--interval', 'abc'], /--interval/],
    ['negative --interval', ['--type', 'file', ...paddle, '--interval', '-1'], /--interval/],
    ['an unknown flag', ['--type', 'file', ...paddle, '--frobnicate', 'x'], /frobnicate/],
    ['no remote at all', ['--remote_model_name', 'm', '--remote_donefile_name', 'd'], /--remote/],
    ['missing --remote_donefile_name', ['--remote', 'file:///tmp', '--remote_model_name', 'm'], /--remote-donefile-name/],
    ['--signal without a pid', ['--type', 'file', ...paddle, '--signal', 'HUP'], /--signal/],
    ['bad --bwlimit', ['--type', 'file', ...paddle, '--bwlimit', 'fast'], /--bwlimit/],
    ['negative --spread', ['--type', 'file', ...paddle, '--spread', '-5'], /--spread/],
    ['--spread 1e12', ['--type', 'file', ...paddle, '--spread', '1e12'], /--spread: must be at most 86400/],
    [
      '--proxy that is not a proxy URL',
      ['--remote', 'http://origin/m', '--remote_model_name', 'm', '--remote_donefile_name', 'd', '--proxy', 'squid:3128/x'],
      /--proxy/,
    ],
    [
      '--proxy for an ftp:// remote',
      ['--remote', 'ftp://origin/m', '--remote_model_name', 'm', '--remote_donefile_name', 'd', '--proxy', 'http://squid:3128'],
      /--proxy/,
    ],
    [
      '--remote_model_name escaping the remote path',
      ['--type', 'file', '--remote_path', '/', '--remote_model_name', '../etc', '--remote_donefile_name', 'd'],
      /--remote_model_name/,
    ], // named as typed
    // Every duration and count has a ceiling: 1e12 s overflowed the timer (thousands of polls a second).
    ['--interval 1e12', ['--type', 'file', ...paddle, '--interval', '1e12'], /--interval: must be at most 86400/],
    ['--exec-timeout 1e20', ['--type', 'file', ...paddle, '--exec-timeout', '1e20'], /--exec-timeout: must be at most 86400/],
    ['--timeout 1e9', ['--type', 'file', ...paddle, '--timeout', '1e9'], /--timeout: must be at most 86400/],
    ['--max-failures 1e12', ['--type', 'file', ...paddle, '--max-failures', '1000000000000'], /--max-failures: must be at most/],
    ['--bwlimit 1e30', ['--type', 'file', ...paddle, '--bwlimit', '1000000000000000000000000000000'], /--bwlimit: must be at most 1P/],
    [
      '--type with --remote (they conflict)',
      ['--type', 'ftp', '--remote', 'file:///tmp', '--remote_model_name', 'm', '--remote_donefile_name', 'd'],
      /--type: conflicts with --remote/,
    ],
  ];
  for (const [what, args, flag] of cases) {
    it(what, async () => {
      for (const cmd of [[], ['sync']]) {
        const r = await run([...cmd, ...args], { cwd });
        expect(r.code).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(flag);
        expect(r.stdout).toBe('');
      }
      expect(await readdir(cwd)).toEqual([]); // nothing created
    });
  }
});

describe('flags are named as the user spelled them', () => {
  const oneLine = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await run(args, { cwd, env });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it("a typo in Paddle's underscore spelling: a suggestion in that spelling, the value not echoed", async () => {
    const line = await oneLine(['--type', 'file', ...paddle, '--local_donefile_nam=fluid_time_file']);
    expect(line).toBe("model-monitor: unknown option '--local_donefile_nam' (did you mean --local_donefile_name?)");
    expect(await oneLine(['sync', '--type', 'file', ...paddle, '--remote_donefile_nam', 'x'])).toMatch(/\(did you mean --remote_donefile_name\?\)$/);
  });

  it('a typo in kebab spelling gets a kebab suggestion; nonsense gets none', async () => {
    expect(await oneLine(['sync', '--type', 'file', ...paddle, '--intervall=3'])).toBe(
      "model-monitor: unknown option '--intervall' (did you mean --interval?)",
    );
    expect(await oneLine(['sync', '--type', 'file', ...paddle, '--frobnicate'])).toBe("model-monitor: unknown option '--frobnicate'");
  });

  it('a missing host names both spellings; a typed one is named as typed; an env value names its variable', async () => {
    expect(await oneLine(['--type', 'ftp', ...paddle])).toMatch(/^model-monitor: --ftp-host \(--ftp_ip\): required with --type ftp$/);
    expect(await oneLine(['--type', 'ftp', '--ftp_ip=', ...paddle])).toMatch(/^model-monitor: --ftp_ip: required with --type ftp$/);
    expect(await oneLine(['--type', 'ftp', '--ftp_ip', 'h', '--ftp_port=abc', ...paddle])).toMatch(/^model-monitor: --ftp_port: /);
    expect(await oneLine(['sync', '--type', 'file', ...paddle], { MODEL_MONITOR_INTERVAL: 'soon' })).toMatch(
      /^model-monitor: --interval \(MODEL_MONITOR_INTERVAL\): expected a number/,
    );
  });
});
