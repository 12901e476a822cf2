import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import { parseManifest } from '../../../src/manifest.js';
import {
  layout,
  newVersionId,
  parseDonefileHeader,
  parsePublishedManifest,
  renderDonefile,
  renderManifest,
  type PublishedManifest,
} from '../../../src/publish/layout.js';

const V = '20261202T125500Z-3fa9c1';
const m: PublishedManifest = {
  format: 'model-monitor-publish',
  formatVersion: 1,
  version: V,
  publishedAt: '2026-12-02T12:55:00.000Z',
  kind: 'dir',
  previous: '20261201T000000Z-000000/manifest.json',
  files: [
    { path: 'params/w', size: 3, md5: 'a'.repeat(32), object: `${V}/files/params/w` },
    {
      path: 'big.bin',
      size: 9_000_000,
      md5: 'b'.repeat(32),
      object: '20261201T000000Z-000000/files/big.bin',
      index: { object: '20261201T000000Z-000000/index/big.bin.cdx', chunks: 130, bytes: 4728 },
    },
  ],
};

describe('published layout', () => {
  it('version ids sort by time', () => {
    expect(newVersionId(new Date('2026-12-02T12:55:00.123Z'), '3fa9c1')).toBe(V);
    expect(newVersionId(new Date('2026-12-02T12:55:01Z'), '000000') > V).toBe(true);
  });

  it('a new version id sorts after the one it replaces, whatever the clock says', () => {
    expect(newVersionId(new Date('2026-12-02T12:55:00Z'), '000000', V)).toBe('20261202T125501Z-000000');
    expect(newVersionId(new Date('2020-01-01T00:00:00Z'), 'ffffff', V)).toBe('20261202T125501Z-ffffff');
    expect(newVersionId(new Date('2026-12-02T13:00:00Z'), '000000', V)).toBe('20261202T130000Z-000000');
  });

  it('the donefile is md5sum format after a header the md5sum parser skips', () => {
    const text = renderDonefile(m);
    expect(text.split('\n')[0]).toBe(`# model-monitor publish format=1 version=${V} manifest=${layout.manifest(V)}`);
    expect(parseManifest(text)).toEqual(
      new Map([
        ['big.bin', 'b'.repeat(32)],
        ['params/w', 'a'.repeat(32)],
      ]),
    );
    expect(parseDonefileHeader(text)).toEqual({ version: V, manifest: `${V}/manifest.json` });
  });

  it('a donefile publish did not write has no header', () => {
    expect(parseDonefileHeader('1700000000\n')).toBeNull();
    expect(parseDonefileHeader(`${'a'.repeat(32)}  x\n`)).toBeNull();
  });

  it.each([
    [`# model-monitor publish format=2 version=${V} manifest=${V}/manifest.json\n`, /format 2; this build reads format 1/],
    [`# model-monitor publish format=1 version=nope manifest=${V}/manifest.json\n`, /bad version id/],
    [`# model-monitor publish format=1 version=${V} manifest=../../etc/passwd\n`, /unsafe path/],
    [`# model-monitor publish format=1 version=${V} manifest=elsewhere/manifest.json\n`, /not under a version directory/],
  ])('refuses a bad header: %s', (text, re) => {
    expect(() => parseDonefileHeader(text)).toThrow(IntegrityError);
    expect(() => parseDonefileHeader(text)).toThrow(re);
  });

  it('the manifest round-trips', () => {
    expect(parsePublishedManifest(renderManifest(m), 'm.json', V)).toEqual(m);
  });

  const edit = (f: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(renderManifest(m)) as Record<string, unknown>;
    f(j);
    return JSON.stringify(j);
  };
  const file0 = (j: Record<string, unknown>) => (j.files as Record<string, unknown>[])[0]!;
  it.each<[string, string, RegExp]>([
    ['not JSON', '{', /not JSON/],
    ['another format', edit((j) => (j.format = 'x')), /not a model-monitor-publish manifest/],
    ['another format version', edit((j) => (j.formatVersion = 7)), /format version 7/],
    ['another version than the donefile', edit((j) => (j.version = '20261202T125500Z-000000')), /the donefile names/],
    ['no files', edit((j) => (j.files = [])), /no files/],
    ['a path leaving the model', edit((j) => (file0(j).path = '../x')), /path is unsafe/],
    ['a bad md5', edit((j) => (file0(j).md5 = 'xyz')), /md5 is not an md5/],
    ['a negative size', edit((j) => (file0(j).size = -1)), /size is not a size/],
    ['an object outside the versions', edit((j) => (file0(j).object = 'x/files/w')), /not under a version directory/],
    ['a path twice', edit((j) => (j.files = [file0(j), file0(j)])), /listed twice/],
    ['a malformed index', edit((j) => (file0(j).index = { object: 3 })), /index is malformed/],
  ])('refuses a manifest with %s', (_name, text, re) => {
    expect(() => parsePublishedManifest(text, 'm.json', V)).toThrow(re);
  });
});
