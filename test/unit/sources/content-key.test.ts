import { describe, expect, it } from 'vitest';
import { ContentKeys, contentKey } from '../../../src/sources/content-key.js';

describe('contentKey', () => {
  it('is the ETag when the origin gives one (quotes and W/ dropped), else mtime and size', () => {
    expect(contentKey({ etag: 'W/"6b10143f-3fffde"', size: 4 })).toBe('6b10143f-3fffde');
    expect(contentKey({ etag: '5d41402abc4b2a76b9719d911017c592', size: 5 })).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(contentKey({ mtimeMs: 1796215874000, size: 4194270 })).toBe('1796215874000-4194270');
    expect(contentKey({ size: 4 })).toBeNull();
    expect(contentKey({ size: 0, isDirectory: true, mtimeMs: 1 })).toBeNull();
  });
});

describe('ContentKeys', () => {
  it('puts the listed key on the URL only when enabled (a proxy is in use)', () => {
    const on = new ContentKeys(true);
    const off = new ContentKeys(false);
    for (const k of [on, off]) k.note('/model/params/big.bin', { size: 9, mtimeMs: 7 });
    const u = new URL('http://origin/m/model/params/big.bin');
    expect(on.apply(u, 'model/params/big.bin').href).toBe('http://origin/m/model/params/big.bin?mmkey=7-9');
    expect(off.apply(u, 'model/params/big.bin').href).toBe(u.href);
    expect(off.apply(u, 'model/params/big.bin', true).href).toBe('http://origin/m/model/params/big.bin?mmkey=7-9');
    expect(on.apply(u, 'model/other').href).toBe(u.href);
  });

  it('a new listing starts afresh; a file without a key loses its old one', () => {
    const k = new ContentKeys(true);
    k.note('a', { size: 1, etag: 'x' });
    k.note('b', { size: 1, etag: 'y' });
    k.reset();
    k.note('a', { size: 2 });
    expect(k.get('a')).toBeUndefined();
    expect(k.get('b')).toBeUndefined();
  });
});
