import { FTPError } from 'basic-ftp';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { AbortedError, AuthError, NotFoundError, RemoteError, TransientError, UnsafePathError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { mapFtpError, parseFtpTime, parseMlstFacts } from '../../../src/sources/ftp-pool.js';
import { checkEntryName, ftp, type FtpOptions } from '../../../src/sources/ftp.js';
import type { SourceFactory } from '../../../src/sources/types.js';
import { configError } from '../../helpers/checks.js';
import { parseWith } from '../../helpers/source.js';
import type { OptionSpec } from '../../../src/options.js';

const parse = (url: string, raw: Record<string, string> = {}) => parseWith(ftp, url, raw);
const specs: readonly OptionSpec[] = ftp.options;
const deps = { log: silentLogger(), timeoutMs: 1000, concurrency: 2 };

describe('ftp factory', () => {
  it('is a SourceFactory for ftp:// and ftps:// and Paddle --type ftp', () => {
    expectTypeOf(ftp).toMatchTypeOf<SourceFactory<FtpOptions, typeof ftp.options>>();
    expect(ftp.kind).toBe('ftp');
    expect(ftp.schemes).toEqual(['ftp', 'ftps']);
    expect(ftp.paddle.types).toEqual(['ftp']);
  });

  it("declares its options once, Paddle's --ftp_host and --ftp_port among them; only the password is secret", () => {
    const byName = Object.fromEntries(specs.map((o) => [o.name, o]));
    expect(Object.keys(byName).sort()).toEqual(['ftp-host', 'ftp-insecure-tls', 'ftp-password', 'ftp-password-file', 'ftp-port', 'ftp-username']);
    expect(byName['ftp-password']?.secret).toBe(true);
    expect(specs.filter((o) => o.secret).map((o) => o.name)).toEqual(['ftp-password']);
    expect(byName['ftp-insecure-tls']).toMatchObject({ kind: 'bool', default: false });
    expect(byName['ftp-port']).toMatchObject({ kind: 'int', default: '21', min: 1, max: 65535 });
    for (const o of specs) expect(o.help.length).toBeGreaterThan(10);
  });
});

describe('ftp.parse', () => {
  it('defaults: port 21, anonymous, root /', () => {
    expect(parse('ftp://example.com')).toEqual({ host: 'example.com', port: 21, secure: false, insecureTls: false, user: 'anonymous', root: '/' });
  });

  it('takes host, port, path (percent-decoded) and ftps', () => {
    expect(parse('ftps://10.0.0.5:2121/home/ftp/my%20models/')).toMatchObject({
      host: '10.0.0.5',
      port: 2121,
      secure: true,
      root: '/home/ftp/my models',
    });
    expect(parse('ftp://[::1]:2121/m').host).toBe('::1');
  });

  it('user and password: URL userinfo wins over the flags', () => {
    const raw = { 'ftp-username': 'flaguser', 'ftp-password': 'flagpass' };
    expect(parse('ftp://urluser:url%3Apass@h/', raw)).toMatchObject({ user: 'urluser', password: 'url:pass' });
    expect(parse('ftp://h/', raw)).toMatchObject({ user: 'flaguser', password: 'flagpass' });
    expect(parse('ftp://urluser@h/', raw)).toMatchObject({ user: 'urluser', password: 'flagpass' });
  });

  it('the password file is only remembered (read on first connect)', () => {
    const o = parse('ftp://u@h/', { 'ftp-password-file': '/nonexistent/pw' });
    expect(o.passwordFile).toBe('/nonexistent/pw');
    expect(o.password).toBeUndefined();
    // a URL password makes the file irrelevant
    expect(parse('ftp://u:p@h/', { 'ftp-password-file': '/x' }).passwordFile).toBeUndefined();
  });

  it('refuses --ftp-password together with --ftp-password-file', () => {
    expect(configError(() => parse('ftp://h/', { 'ftp-password': 'a', 'ftp-password-file': '/x' })).flag).toBe('ftp-password-file');
  });

  it('validates host, port, scheme, query', () => {
    expect(configError(() => parse('ftp://h:0/')).flag).toBe('remote');
    expect(configError(() => parse('ftp://h:0/')).message).toMatch(/1-65535/);
    expect(configError(() => parse('ftps:///path')).message).toMatch(/needs a host/);
    expect(configError(() => parse('http://h/')).flag).toBe('remote');
    expect(configError(() => parse('ftp://h/p?type=i')).flag).toBe('remote');
    expect(configError(() => parse('ftp://h/%E0%A4%A')).flag).toBe('remote');
  });

  it('--ftp-insecure-tls: a boolean, and only for ftps://', () => {
    expect(parse('ftps://h/', { 'ftp-insecure-tls': 'true' }).insecureTls).toBe(true);
    expect(parse('ftps://h/', { 'ftp-insecure-tls': 'false' }).insecureTls).toBe(false);
    expect(configError(() => parse('ftps://h/', { 'ftp-insecure-tls': 'maybe' })).flag).toBe('ftp-insecure-tls');
    expect(configError(() => parse('ftp://h/', { 'ftp-insecure-tls': 'true' })).flag).toBe('ftp-insecure-tls');
  });

  it('refuses CR/LF in credentials (FTP command injection)', () => {
    expect(configError(() => parse('ftp://h/', { 'ftp-username': 'a\r\nDELE x' })).flag).toBe('ftp-username');
    expect(configError(() => parse('ftp://u:a%0D%0Ab@h/')).flag).toBe('remote');
  });
});

describe('ftp source, without I/O', () => {
  it('create() does no I/O and displayUrl never holds the password', async () => {
    const src = ftp.create(parse('ftp://bob:hunter2@127.0.0.1:1/models/a%20b'), deps);
    expect(src.displayUrl).toBe('ftp://bob@127.0.0.1:1/models/a%20b');
    expect(src.displayUrl).not.toContain('hunter2');
    expect(src.features).toEqual({ md5: false, etag: false, ranges: true, mtimeResolutionMs: 1000 });
    await src.close();
    expect(ftp.create(parse('ftps://h/'), deps).displayUrl).toBe('ftps://h:21');
  });

  it('refuses remote paths that leave the root before any I/O', async () => {
    const src = ftp.create(parse('ftp://127.0.0.1:1/models'), deps);
    await expect(src.stat('../etc/passwd', { signal: AbortSignal.timeout(5000) })).rejects.toBeInstanceOf(UnsafePathError);
    await expect(src.open('a/../../x', { signal: AbortSignal.timeout(5000) })).rejects.toBeInstanceOf(UnsafePathError);
    await src.close();
  });
});

describe('listing names', () => {
  it('plain names pass, path-like ones are refused', () => {
    expect(checkEntryName('model.bin')).toBe('model.bin');
    expect(checkEntryName('with space ü')).toBe('with space ü');
    for (const bad of ['', '.', '..', 'a/b', '../x', 'a\\b', 'nul\0']) {
      expect(() => checkEntryName(bad)).toThrow(UnsafePathError);
    }
  });
});

describe('MLST / MDTM parsing', () => {
  it('parses RFC 3659 times as UTC, with optional fraction', () => {
    expect(parseFtpTime('20240102030405')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(parseFtpTime('20240102030405.5')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5, 500));
    expect(parseFtpTime('20240102030405.123')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5, 123));
    expect(parseFtpTime('yesterday')).toBeUndefined();
  });

  it('reads the facts line of an MLST reply', () => {
    const facts = parseMlstFacts('250-Begin\r\n type=file;size=42;modify=20240102030405;UNIX.mode=0644; /m/a b.txt\r\n250 End.');
    expect(facts?.get('type')).toBe('file');
    expect(facts?.get('size')).toBe('42');
    expect(facts?.get('unix.mode')).toBe('0644');
    expect(parseMlstFacts('250 nothing here')).toBeUndefined();
  });
});

describe('mapFtpError', () => {
  const ep = { address: 'ftp.example:21', user: 'bob' };
  const reply = (code: number, message: string) => new FTPError({ code, message: `${code} ${message}` });

  it('maps FTP reply codes to the shared contract', () => {
    const auth = mapFtpError(reply(530, 'Login incorrect.'), 'connect', ep);
    expect(auth).toBeInstanceOf(AuthError);
    expect(auth.message).toContain('"bob"');
    expect(auth.message).toContain('ftp.example:21');
    expect(mapFtpError(reply(550, 'No such file'), 'stat /a', ep)).toBeInstanceOf(NotFoundError);
    expect(mapFtpError(reply(421, 'Too many connections'), 'connect', ep)).toBeInstanceOf(TransientError);
    expect(mapFtpError(reply(426, 'Transfer aborted'), 'download', ep)).toBeInstanceOf(TransientError);
    expect(mapFtpError(reply(553, 'Not allowed'), 'stat', ep)).toBeInstanceOf(RemoteError);
    expect(mapFtpError(reply(500, 'Unknown command'), 'stat', ep).retryable).toBe(false);
  });

  it('socket errors and dropped connections are transient; causes are kept', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const e = mapFtpError(refused, 'connect', ep);
    expect(e).toBeInstanceOf(TransientError);
    expect(e.cause).toBe(refused);
    expect(mapFtpError(new Error('Server sent FIN packet unexpectedly'), 'stat', ep, { lost: true })).toBeInstanceOf(TransientError);
    expect(mapFtpError(new Error('Cannot parse reply'), 'stat', ep)).toBeInstanceOf(RemoteError);
  });

  it('an untrusted certificate is not retried and names the flag', () => {
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const e = mapFtpError(tls, 'connect', ep, { lost: true });
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('--ftp-insecure-tls');
  });

  it('an aborted signal wins: timeout → transient, cancel → aborted', () => {
    const timedOut = AbortSignal.abort(new DOMException('t', 'TimeoutError'));
    expect(mapFtpError(new Error('x'), 'stat', ep, { signal: timedOut })).toBeInstanceOf(TransientError);
    const cancelled = AbortSignal.abort(new Error('SIGTERM'));
    expect(mapFtpError(new Error('x'), 'stat', ep, { signal: cancelled })).toBeInstanceOf(AbortedError);
  });
});
