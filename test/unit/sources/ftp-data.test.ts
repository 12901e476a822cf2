import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { ftp } from '../../../src/sources/ftp.js';
import { pasvHost, sizeIn150 } from '../../../src/sources/ftp-data.js';
import type { WireEngine } from '../../../src/wire/engine.js';
import { inlineWire } from '../../helpers/inline-wire.js';
import { sourceWith } from '../../helpers/source.js';

describe('pasvHost: where a PASV data connection goes (basic-ftp rules)', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
    ['127.0.0.1', '::ffff:127.0.0.1', '127.0.0.1'],
    ['127.0.1.1', '127.0.0.1', '127.0.0.1'], // both loopback: the control host
    ['198.51.100.7', '198.51.100.7', '198.51.100.7'],
    ['10.0.0.5', '198.51.100.7', '198.51.100.7'], // behind NAT, naming its inside address
    ['192.168.1.2', '198.51.100.7', '198.51.100.7'],
    ['0.0.0.0', '198.51.100.7', '198.51.100.7'],
    ['10.0.0.5', '10.0.0.5', '10.0.0.5'],
  ])('PASV %s on a control connection to %s → %s', (announced, control, want) => {
    expect(pasvHost(announced, control)).toBe(want);
  });

  it.each([
    ['203.0.113.9', '198.51.100.7'], // another public host: an FTP bounce
    ['10.0.0.6', '10.0.0.5'], // another private host while the control host is private too
    ['203.0.113.9', '127.0.0.1'],
  ])('PASV %s on a control connection to %s is refused', (announced, control) => {
    expect(() => pasvHost(announced, control)).toThrow(RemoteError);
  });
});

describe('sizeIn150: the size a RETR 150 reply names (vsftpd, ProFTPD)', () => {
  it('reads the trailing "(N bytes)" and nothing else', () => {
    expect(sizeIn150('150 Opening BINARY mode data connection for /m/shard-000.bin (2097152 bytes).')).toBe(2097152);
    expect(sizeIn150('150 Opening BINARY mode data connection for f (0 bytes)')).toBe(0);
    expect(sizeIn150('150 Opening BINARY mode data connection for a (12 bytes).bin')).toBeUndefined();
    expect(sizeIn150('150-Accepted data connection\n150 2048.0 kbytes to download')).toBeUndefined();
    expect(sizeIn150('150 File status okay. About to open data connection.')).toBeUndefined();
  });
});

describe('which FTP sources offer download()', () => {
  const deps = (wire: WireEngine | null) => ({ log: silentLogger(), timeoutMs: 1000, concurrency: 1, wire });
  it.each([
    ['ftp://127.0.0.1:2121/m', true, true],
    ['ftp://127.0.0.1:2121/m', false, false], // --data-path stock: no engine
    ['ftps://127.0.0.1:2121/m', true, false], // TLS data connections stay basic-ftp's
  ])('%s with an engine: %s → %s', async (url, withEngine, offered) => {
    const wire = inlineWire();
    const src = sourceWith(ftp, url, {}, deps(withEngine ? wire : null));
    try {
      expect(typeof src.download === 'function').toBe(offered);
    } finally {
      await src.close();
      await wire.close();
    }
  });
});
