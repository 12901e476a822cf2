import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { pasvHost } from '../../../src/sources/ftp-data.js';

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
