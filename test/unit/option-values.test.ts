/** The one reader of option values (option-values.ts): every kind, table-driven, and the types it derives. */
import { Writable } from 'node:stream';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { allOptions, printableConfig, resolveRaw } from '../../src/config.js';
import { coreOptions } from '../../src/core-options.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { readOptions, readValue } from '../../src/option-values.js';
import { redactPaths, type OptionSpec } from '../../src/options.js';
import { preheatOptions } from '../../src/preheat-cli.js';
import { publishOptions } from '../../src/publish/options.js';
import { configError } from '../helpers/checks.js';

const every: readonly OptionSpec[] = [...allOptions(), ...preheatOptions, ...publishOptions];

describe('one boolean rule for every boolean option of every table', () => {
  const bools = every.filter((s) => s.kind === 'bool');
  it('there are booleans in the core and in the sources', () => {
    expect(bools.map((s) => s.name)).toEqual(
      expect.arrayContaining(['fsync', 'hdfs-noredirect', 's3-force-path-style', 's3-unsigned', 'ftp-insecure-tls', 'preheat-wait', 'chunk-index']),
    );
  });
  for (const s of bools) {
    it(`--${s.name}`, () => {
      for (const t of ['true', '1', 'yes', 'ON', ' on ']) expect(readValue(s, t), t).toBe(true);
      for (const t of ['false', '0', 'no', 'OFF']) expect(readValue(s, t), t).toBe(false);
      for (const t of ['maybe', '2', 'y']) expect(configError(() => readValue(s, t)).flag).toBe(s.name);
    });
  }
});

const spec = (o: Partial<OptionSpec> & Pick<OptionSpec, 'kind'>): OptionSpec => ({ name: 'x', help: 'x', ...o });

describe('readValue', () => {
  const cases: [string, OptionSpec, string | undefined, unknown][] = [
    ['unset string', spec({ kind: 'string' }), undefined, null],
    ['empty string is unset', spec({ kind: 'string' }), '', null],
    ['unset string with a default', spec({ kind: 'string', default: 'd' }), undefined, 'd'],
    ['a choice', spec({ kind: 'string', choices: ['a', 'b'] }), 'b', 'b'],
    ['int', spec({ kind: 'int', min: 0, max: 9 }), '7', 7],
    ['int at its bounds', spec({ kind: 'int', min: 0, max: 9 }), '0', 0],
    ['number', spec({ kind: 'number' }), '1.5', 1.5],
    ['int default', spec({ kind: 'int', default: '4' }), undefined, 4],
    ['duration: seconds in, ms out', spec({ kind: 'duration' }), '1.5', 1500],
    ['duration default', spec({ kind: 'duration', default: '10' }), undefined, 10_000],
    ['bytes', spec({ kind: 'bytes' }), '50M', 50 * 1024 * 1024],
    ['bytes with a rate suffix', spec({ kind: 'bytes' }), '800k/s', 800 * 1024],
    ['bytes: 0 turns it off', spec({ kind: 'bytes', zeroOff: true, min: 1024 * 1024 }), '0', 0],
    ['list', spec({ kind: 'list' }), 'a\u0000b\u0000', ['a', 'b']],
    ['unset list', spec({ kind: 'list' }), undefined, []],
    ['bool unset, no default', spec({ kind: 'bool' }), undefined, null],
    ['bool default', spec({ kind: 'bool', default: true }), undefined, true],
  ];
  it.each(cases)('%s', (_what, s, text, want) => {
    expect(readValue(s, text)).toEqual(want);
  });

  const refused: [string, OptionSpec, string, RegExp][] = [
    ['not a choice', spec({ kind: 'string', choices: ['a', 'b'] }), 'c', /must be one of a, b, got "c"/],
    ['a check', spec({ kind: 'string', check: (v) => (v.includes('/') ? 'no slashes' : null) }), 'a/b', /no slashes/],
    ['not a whole number', spec({ kind: 'int' }), '1.5', /expected a whole number, got "1.5"/],
    ['not a number', spec({ kind: 'number' }), 'soon', /expected a number, got "soon"/],
    ['below min', spec({ kind: 'int', min: 1 }), '0', /must be at least 1, got 0/],
    ['above max', spec({ kind: 'int', max: 9 }), '10', /must be at most 9, got 10/],
    ['a duration over a day', spec({ kind: 'duration' }), '1e12', /must be at most 86400/],
    ['a negative duration', spec({ kind: 'duration', min: 0 }), '-5', /must be at least 0/],
    ['not a size', spec({ kind: 'bytes' }), 'fast', /expected a size like 50M/],
    ['a size of 0 without zeroOff', spec({ kind: 'bytes' }), '0', /must be positive/],
    ['a size over 1P', spec({ kind: 'bytes' }), '1000000000000000000000', /must be at most 1P/],
    ['a size below min', spec({ kind: 'bytes', zeroOff: true, min: 1024 * 1024 }), '100k', /must be 0 \(off\) or at least 1M, got "100k"/],
  ];
  it.each(refused)('refused: %s, naming the flag', (_what, s, text, msg) => {
    const e = configError(() => readValue(s, text));
    expect(e.flag).toBe('x');
    expect(e.message).toMatch(msg);
  });
});

describe('readOptions', () => {
  it('types follow the table: a default makes a value non-null, a duration is <name>Ms', () => {
    const v = readOptions(coreOptions, {});
    expectTypeOf(v.keepBackups).toEqualTypeOf<number>();
    expectTypeOf(v.pid).toEqualTypeOf<number | null>();
    expectTypeOf(v.intervalMs).toEqualTypeOf<number>();
    expectTypeOf(v.swap).toEqualTypeOf<'rename' | 'symlink' | 'versioned'>();
    expectTypeOf(v.touch).toEqualTypeOf<readonly string[]>();
    expect(v).toMatchObject({ keepBackups: 2, pid: null, intervalMs: 10_000, swap: 'rename', touch: [], minRate: 1024, bwlimit: 0, retries: 5 });
  });

  it('every core default is a valid value of its own option', () => {
    for (const s of every) if (s.default !== undefined) expect(() => readValue(s, undefined), s.name).not.toThrow();
  });

  it('a bad value anywhere in the table is a ConfigError naming it', () => {
    expect(() => readOptions(coreOptions, { concurrency: '0' })).toThrow(ConfigError);
    expect(() => readOptions(coreOptions, { concurrency: '0' })).toThrow(/^--concurrency: must be at least 1/);
  });
});

describe('secrets, from secret: true alone', () => {
  const secrets = every.filter((s) => s.secret).map((s) => s.name);
  it('the secret options', () => {
    expect(secrets.sort()).toEqual(['fs-ugi', 'ftp-password', 'hdfs-token', 'http-header', 'preheat-token']);
  });

  it('--print-config masks each of them, and a password in any URL value', () => {
    const cli = Object.fromEntries(secrets.map((n) => [n, 'Secr3t']));
    const raw = resolveRaw({ ...cli, remote: 'ftp://u:Secr3t@h/', 'http-post': 'http://u:Secr3t@h/load' }, {}, every);
    const shown = JSON.stringify(printableConfig(raw, every));
    expect(shown).not.toContain('Secr3t');
    expect(shown).toContain('ftp://u:***@h/');
  });

  it('log lines redact them, typed or raw, at the top or one level down', () => {
    const out: string[] = [];
    const destination = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) });
    const log = createLogger({ level: 'info', format: 'json', destination, redact: redactPaths(every) });
    log.info({ ftpPassword: 'Secr3t', config: { hdfsToken: 'Secr3t', raw: { 'fs-ugi': 'u,Secr3t' } }, raw: { 'preheat-token': 'Secr3t' } }, 'x');
    expect(out.join('')).not.toContain('Secr3t');
  });
});
