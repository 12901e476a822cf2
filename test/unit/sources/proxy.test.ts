import { afterEach, describe, expect, it } from 'vitest';
import { allOptions, buildConfig, printableConfig, resolveRaw } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { parseProxy, resolveProxy } from '../../../src/sources/proxy.js';

const saved = { ...process.env };
afterEach(() => {
  for (const k of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe('--proxy', () => {
  it('takes http(s)://host:port, or none; anything else names the flag', () => {
    expect(parseProxy('http://squid:3128')).toBe('http://squid:3128');
    expect(parseProxy('http://user:pw@squid:3128/')).toBe('http://user:pw@squid:3128');
    expect(parseProxy('NONE')).toBeNull();
    expect(parseProxy(null)).toBeUndefined();
    for (const bad of ['squid:3128x', 'socks5://s:1080', 'http://squid:3128/path', 'http://s:1/?a=b']) {
      expect(() => parseProxy(bad), bad).toThrow(ConfigError);
      expect(() => parseProxy(bad), bad).toThrow(/^--proxy: /);
    }
  });

  it('wins over HTTP_PROXY; none turns the environment off; absent follows it (and NO_PROXY)', () => {
    process.env.HTTP_PROXY = process.env.http_proxy = 'http://env-proxy:8080';
    process.env.NO_PROXY = process.env.no_proxy = 'direct.example';
    expect(resolveProxy('http://squid:3128', 'http://origin/x')).toBe('http://squid:3128');
    expect(resolveProxy(null, 'http://origin/x')).toBeNull();
    expect(resolveProxy(undefined, 'http://origin/x')).toBe('http://env-proxy:8080');
    expect(resolveProxy(undefined, 'http://direct.example/x')).toBeNull();
  });
});

it('--print-config masks a password in the proxy URL', () => {
  const raw = resolveRaw({ proxy: 'http://fleet:s3cret@squid:3128' }, {}, allOptions());
  expect(JSON.stringify(printableConfig(raw, allOptions()))).not.toContain('s3cret');
});

describe('whole files through a proxy', () => {
  const config = (cli: Record<string, string>) =>
    buildConfig(
      'sync',
      resolveRaw({ remote: 'http://origin:8080/models', 'remote-model-name': 'model', 'remote-donefile-name': 'donefile', ...cli }, {}, allOptions()),
    );

  it('a proxied remote pulls whole files (a cache stores objects, not ranges); --part-size still wins', () => {
    expect(config({}).partSize).toBe(64 * 1024 * 1024);
    expect(config({}).proxy).toBeNull();
    expect(config({ proxy: 'http://squid:3128' }).partSize).toBe(0);
    expect(config({ proxy: 'http://squid:3128' }).proxy).toBe('http://squid:3128');
    expect(config({ proxy: 'http://squid:3128', 'part-size': '16M' }).partSize).toBe(16 * 1024 * 1024);
    expect(config({ proxy: 'none' }).partSize).toBe(64 * 1024 * 1024);
  });

  it('the same for webhdfs:// and s3:// remotes; an ftp:// remote refuses --proxy', () => {
    const c = (remote: string, extra: Record<string, string> = {}) =>
      buildConfig(
        'sync',
        resolveRaw({ remote, 'remote-model-name': 'model', 'remote-donefile-name': 'donefile', proxy: 'http://squid:3128', ...extra }, {}, allOptions()),
      );
    expect(c('webhdfs://nn:9870/m').partSize).toBe(0);
    expect(c('s3://bucket/m', { 's3-endpoint': 'http://minio:9000' }).partSize).toBe(0);
    expect(() => c('ftp://host/m')).toThrow(/^--proxy: ftp remotes do not go through an HTTP proxy/);
  });
});
