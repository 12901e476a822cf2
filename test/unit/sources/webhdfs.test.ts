import { describe, expect, it } from 'vitest';
import { AuthError, ConfigError, NotFoundError, RemoteError, TransientError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { parseWebHdfsUrl, webhdfs } from '../../../src/sources/webhdfs.js';
import type { OptionSpec } from '../../../src/options.js';
import { parseWith } from '../../helpers/source.js';
import { classifyRemote, encodeHdfsPath, remoteToMonitorError, WebHdfsRemoteException } from '../../../src/sources/webhdfs-client.js';

describe('parseWebHdfsUrl', () => {
  it('one namenode, default ports per scheme', () => {
    expect(parseWebHdfsUrl('webhdfs://nn1:9870/models/a')).toEqual({ secure: false, hosts: ['nn1:9870'], root: '/models/a' });
    expect(parseWebHdfsUrl('swebhdfs://NN1/x')).toEqual({ secure: true, hosts: ['nn1:9871'], root: '/x' });
    expect(parseWebHdfsUrl('webhdfs://nn1').root).toBe('/');
  });

  it('a comma list of namenodes / gateways (which new URL() rejects)', () => {
    expect(() => new URL('webhdfs://nn1:9870,nn2:9870/p')).toThrow();
    expect(parseWebHdfsUrl('webhdfs://nn1:9870,nn2:14000/p').hosts).toEqual(['nn1:9870', 'nn2:14000']);
    expect(parseWebHdfsUrl('webhdfs://nn1,nn2:9871/p').hosts).toEqual(['nn1:9870', 'nn2:9871']);
    expect(parseWebHdfsUrl('webhdfs://[::1]:9870,10.0.0.2/p').hosts).toEqual(['[::1]:9870', '10.0.0.2:9870']);
  });

  it('user from userinfo; percent-decoded root', () => {
    expect(parseWebHdfsUrl('webhdfs://alice@nn:1/a%20b/%E6%A8%A1')).toEqual({ secure: false, hosts: ['nn:1'], root: '/a b/模', user: 'alice' });
  });

  it('refuses what it cannot use, naming --remote', () => {
    for (const bad of ['http://nn/x', 'webhdfs://nn:99999/x', 'webhdfs://nn:1,/x', 'webhdfs://n n/x', 'webhdfs://nn/x?op=OPEN', 'webhdfs://nn/%zz']) {
      expect(() => parseWebHdfsUrl(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseWebHdfsUrl('webhdfs://nn:0/x')).toThrow(/--remote/);
  });
});

describe('webhdfs.parse', () => {
  const url = new URL('webhdfs://nn1:9870/m');

  it('declares its options once, the token as a secret', () => {
    expect(webhdfs.options.map((o) => o.name)).toEqual(['hdfs-user', 'hdfs-token', 'hdfs-namenodes', 'hdfs-noredirect', 'proxy']);
    expect((webhdfs.options as readonly OptionSpec[]).find((o) => o.name === 'hdfs-token')?.secret).toBe(true);
    expect(webhdfs.schemes).toEqual(['webhdfs', 'swebhdfs']);
  });

  it('builds endpoints from the URL, raw --remote and --hdfs-namenodes', () => {
    const o = parseWith(webhdfs, 'webhdfs://nn1:9870,nn2:9870/m', { 'hdfs-namenodes': 'nn3:14000\u0000nn2:9870', 'hdfs-user': 'bob' });
    expect(o.endpoints).toEqual(['http://nn1:9870', 'http://nn2:9870', 'http://nn3:14000']);
    expect(o).toMatchObject({ root: '/m', user: 'bob', noRedirect: false, displayUrl: 'webhdfs://nn1:9870,nn2:9870,nn3:14000/m' });
    expect(parseWith(webhdfs, 'swebhdfs://nn/m').endpoints).toEqual(['https://nn:9871']);
  });

  it('user.name defaults to $HADOOP_USER_NAME, but is not sent with a token unless given', () => {
    const saved = process.env.HADOOP_USER_NAME;
    process.env.HADOOP_USER_NAME = 'hadoop-env-user';
    try {
      expect(parseWith(webhdfs, url, {}).user).toBe('hadoop-env-user');
      expect(parseWith(webhdfs, url, { 'hdfs-token': 'abc_DEF-1' }).user).toBeUndefined();
      expect(parseWith(webhdfs, url, { 'hdfs-token': 'abc', 'hdfs-user': 'x' }).user).toBe('x');
    } finally {
      if (saved === undefined) delete process.env.HADOOP_USER_NAME;
      else process.env.HADOOP_USER_NAME = saved;
    }
  });

  it('bad input names the flag; the token never appears in displayUrl', () => {
    expect(() => parseWith(webhdfs, url, { 'hdfs-token': 'has space' })).toThrow(/--hdfs-token/);
    expect(() => parseWith(webhdfs, url, { 'hdfs-user': 'a b' })).toThrow(/--hdfs-user/);
    expect(() => parseWith(webhdfs, url, { 'hdfs-namenodes': 'bad host:1' })).toThrow(ConfigError);
    expect(parseWith(webhdfs, url, { 'hdfs-token': 'SeCrEt' }).displayUrl).not.toContain('SeCrEt');
    expect(parseWith(webhdfs, url, { 'hdfs-noredirect': 'true' }).noRedirect).toBe(true);
  });

  it('create() does no I/O', async () => {
    const src = webhdfs.create(parseWith(webhdfs, url), { log: silentLogger(), timeoutMs: 1000, concurrency: 2 });
    expect(src.features).toEqual({ md5: false, etag: false, ranges: true, mtimeResolutionMs: 1 });
    await src.close();
  });
});

describe('RemoteException mapping', () => {
  const re = (status: number, exception: string) => new WebHdfsRemoteException(status, exception, 'msg');

  it.each([
    [404, 'FileNotFoundException', 'not-found', NotFoundError],
    [403, 'StandbyException', 'standby', TransientError],
    [403, 'RetriableException', 'retriable', TransientError],
    [503, '', 'retriable', TransientError],
    [403, 'AccessControlException', 'auth', AuthError],
    [401, 'SecurityException', 'auth', AuthError],
    [401, '', 'auth', AuthError],
    [403, '', 'auth', AuthError],
    [403, 'InvalidToken', 'auth', AuthError],
    [400, 'IllegalArgumentException', 'unsupported', RemoteError],
    [400, 'UnsupportedOperationException', 'unsupported', RemoteError],
    [403, 'PathIsNotDirectoryException', 'other', RemoteError],
    [500, 'NullPointerException', 'other', RemoteError],
    [404, '', 'other', RemoteError],
  ] as const)('%i %s → %s', (status, exception, kind, cls) => {
    expect(classifyRemote(status, exception)).toBe(kind);
    const err = remoteToMonitorError(kind, 'GETFILESTATUS /x', re(status, exception));
    expect(err).toBeInstanceOf(cls);
    expect(err.cause).toBeInstanceOf(WebHdfsRemoteException);
  });

  it('auth errors say what to check', () => {
    expect(remoteToMonitorError('auth', 'OPEN /x', re(403, 'AccessControlException')).message).toMatch(/--hdfs-user \/ --hdfs-token/);
  });
});

describe('helpers', () => {
  it('encodeHdfsPath encodes each segment', () => {
    expect(encodeHdfsPath('/a b/模型/x?#%.bin')).toBe('/a%20b/%E6%A8%A1%E5%9E%8B/x%3F%23%25.bin');
  });
});
