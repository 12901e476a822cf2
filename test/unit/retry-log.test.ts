import { describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { retryMessage, retryWindow, unreachable } from '../../src/retry-log.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2121'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 2121 });

describe('retry lines', () => {
  it('name the endpoint from the cause chain', () => {
    const err = new TransientError('connect: connection to 127.0.0.1:2121 failed', { cause: refused });
    expect(unreachable(err)).toEqual({ code: 'ECONNREFUSED', where: '127.0.0.1:2121' });
    expect(retryMessage(err, 'stat donefile', 2, 5, '0.5-1 s')).toBe('cannot reach 127.0.0.1:2121 (ECONNREFUSED); retry 2/5 in 0.5-1 s');
  });

  it('an IPv6 address is bracketed; a DNS failure names the host', () => {
    expect(unreachable(Object.assign(new Error('x'), { code: 'ECONNREFUSED', address: '::1', port: 21 }))?.where).toBe('[::1]:21');
    expect(unreachable(Object.assign(new Error('x'), { code: 'ENOTFOUND', hostname: 'ftp.example.com' }))?.where).toBe('ftp.example.com');
  });

  it('other failures say what failed and why', () => {
    expect(retryMessage(new TransientError('HTTP 503'), 'list model', 1, 3, '0.25-0.5 s')).toBe('list model failed (HTTP 503); retry 1/3 in 0.25-0.5 s');
  });

  it('the window is p-retry randomized backoff: [min·2^(n-1), 2·min·2^(n-1)], capped', () => {
    expect(retryWindow(1, 250, 10_000)).toBe('0.25-0.5 s');
    expect(retryWindow(4, 250, 10_000)).toBe('2-4 s');
    expect(retryWindow(7, 250, 10_000)).toBe('10 s');
  });
});
