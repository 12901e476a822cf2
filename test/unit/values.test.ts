import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { allOptions, normalizeArgv } from '../../src/config.js';
import { parseBytes } from '../../src/option-values.js';
import { parseValues } from '../../src/values.js';

describe('argv spellings', () => {
  const specs = allOptions();
  it("maps Paddle's spellings to the canonical flags", () => {
    expect(normalizeArgv(['--ftp_ip=1.2.3.4', '--local_donefile_name', 'f', '--local_tmp_dir=tmp', '--local_path', '.'], specs)).toEqual([
      '--ftp-host=1.2.3.4',
      '--local-timestamp-file',
      'f',
      '--local-tmp-path=tmp',
      '--local-path',
      '.',
    ]);
  });
  it('--no-touch disables the timestamp file; values after -- are left alone', () => {
    expect(normalizeArgv(['--no-touch', '--', '--ftp_ip'], specs)).toEqual(['--no-touch-timestamp', '--', '--ftp_ip']);
  });
});

describe('values', () => {
  it('parses sizes', () => {
    expect(parseBytes('bwlimit', '50M')).toBe(50 * 1024 * 1024);
    expect(parseBytes('bwlimit', '800k')).toBe(800 * 1024);
    expect(parseBytes('bwlimit', '1.5G')).toBe(1.5 * 1024 ** 3);
    expect(() => parseBytes('bwlimit', 'lots')).toThrow(ConfigError);
  });
  it('normalises signals and requires a target', () => {
    expect(parseValues({ signal: 'hup', pid: '1' }).signal).toBe('SIGHUP');
    expect(() => parseValues({ signal: 'HUP' })).toThrow(/--signal/);
  });
  it('--no-touch-timestamp switches the timestamp file off', () => {
    expect(parseValues({ 'touch-timestamp': 'false', 'local-timestamp-file': 'x' }).timestampFile).toBeNull();
    expect(parseValues({ 'local-timestamp-file': 'x' }).timestampFile).toBe('x');
  });
});
