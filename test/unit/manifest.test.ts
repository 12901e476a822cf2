import { expect, it } from 'vitest';
import { IntegrityError, UnsafePathError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest.js';

it('reads md5sum output, text and binary mode', () => {
  const m = parseManifest('d41d8cd98f00b204e9800998ecf8427e  empty\n0cc175b9c0f1b6a831c399e269772661 *sub/a.bin\n');
  expect(m).toEqual(
    new Map([
      ['empty', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['sub/a.bin', '0cc175b9c0f1b6a831c399e269772661'],
    ]),
  );
});
it('a timestamp donefile is not a manifest', () => {
  expect(parseManifest('1732370000\n')).toBeNull();
  expect(parseManifest('')).toBeNull();
});
it('refuses a manifest naming paths outside the model', () => {
  expect(() => parseManifest('d41d8cd98f00b204e9800998ecf8427e  ../etc/passwd\n')).toThrow(UnsafePathError);
});
it('an md5sum manifest with one junk line is an error naming the line, not "no manifest"', () => {
  const text = 'd41d8cd98f00b204e9800998ecf8427e  empty\nthis is not a manifest line\n0cc175b9c0f1b6a831c399e269772661  a.bin\n';
  expect(() => parseManifest(text)).toThrow(IntegrityError);
  expect(() => parseManifest(text)).toThrow(/manifest line 2 is not "<md5>  <path>": "this is not a manifest line"/);
});
