import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../src/errors.js';
import { joinRemote, resolveInside, safeRelative, safeSegment } from '../../src/paths.js';

describe('safeRelative', () => {
  it('normalises harmless names', () => {
    expect(safeRelative('a/b/c.txt')).toBe('a/b/c.txt');
    expect(safeRelative('./a//b/')).toBe('a/b');
    expect(safeRelative('with space/modèle-模型.bin')).toBe('with space/modèle-模型.bin');
  });
  for (const bad of ['', '../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', '.', './', 'C:/x', '..']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => safeRelative(bad)).toThrow(UnsafePathError);
    });
  }
  it('safeSegment refuses a slash', () => {
    expect(() => safeSegment('a/b')).toThrow(UnsafePathError);
    expect(safeSegment('a')).toBe('a');
  });
});

describe('resolveInside / joinRemote', () => {
  it('keeps paths inside the root', () => {
    expect(resolveInside('/r', 'a/b')).toBe('/r/a/b');
    expect(() => resolveInside('/r', '../r2/x')).toThrow(UnsafePathError);
  });
  it('joins remote pieces', () => {
    expect(joinRemote('/a/', 'b', 'c')).toBe('/a/b/c');
    expect(joinRemote('a', '', './b')).toBe('a/b');
    expect(joinRemote('/', '/')).toBe('/');
  });
});
