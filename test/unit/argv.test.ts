import { describe, expect, it } from 'vitest';
import { checkFlags, editDistance, flagLabel, suggestFlag } from '../../src/argv.js';
import { allOptions } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { configError } from '../helpers/checks.js';

const specs = allOptions();

describe('suggestFlag', () => {
  it.each([
    ['local_donefile_nam', 'local_donefile_name'],
    ['local-donefile-nam', 'local-donefile-name'],
    ['remote_model_nmae', 'remote_model_name'],
    ['ftp_iq', 'ftp_ip'],
    ['intervall', 'interval'],
    ['local_tmp_dri', 'local_tmp_dir'],
  ])('%s → %s', (typed, want) => {
    expect(suggestFlag(typed, specs)).toBe(want);
  });

  it('nothing close: no suggestion', () => {
    expect(suggestFlag('frobnicate', specs)).toBeNull();
  });

  it('editDistance counts a transposition as one edit', () => {
    expect(editDistance('nmae', 'name')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('checkFlags', () => {
  it('passes known flags in every spelling, negations and values that look like flags', () => {
    expect(() =>
      checkFlags(['sync', '--local_path', '/x', '--no-touch', '--no-fsync', '--exec', '--not-a-flag', '--ftp_ip=h', '--', '--anything'], specs),
    ).not.toThrow();
  });

  it('names the first unknown flag without its value', () => {
    const e = configError(() => checkFlags(['--type', 'ftp', '--ftp_prot=21'], specs));
    expect(e.message).toBe("unknown option '--ftp_prot' (did you mean --ftp_port?)");
    expect(e).toBeInstanceOf(ConfigError);
  });
});

describe('flagLabel', () => {
  it('as typed, else from the environment, else every spelling', () => {
    expect(flagLabel('ftp-host', ['--ftp_ip='], {}, specs)).toBe('--ftp_ip');
    expect(flagLabel('interval', [], { MODEL_MONITOR_INTERVAL: 'x' }, specs)).toBe('--interval (MODEL_MONITOR_INTERVAL)');
    expect(flagLabel('ftp-host', [], {}, specs)).toBe('--ftp-host (--ftp_ip)');
    expect(flagLabel('interval', [], {}, specs)).toBe('--interval');
  });
});
