/** planFiles(): the listing, the manifest and what is served → the plan. Pure, table-driven. */
import { describe, expect, it } from 'vitest';
import { EmptyModelError } from '../../src/errors.js';
import type { Manifest } from '../../src/manifest.js';
import type { Aspired, ServedRecord } from '../../src/model.js';
import { planFiles, unchanged, type Listing, type PlanRules } from '../../src/plan.js';
import type { RemoteEntry } from '../../src/sources/types.js';

const aspired: Aspired = { version: 'v2', fingerprint: 'fp-2', remoteModel: 'models/m' };
const rules = (o: Partial<PlanRules> = {}): PlanRules => ({
  aspired,
  manifestName: null,
  incremental: false,
  archive: false,
  neverReuse: ['fluid_time_file'],
  listedMd5: false,
  ...o,
});
const dir = (...entries: RemoteEntry[]): Listing => ({ entries, single: false });
const served = (...files: ServedRecord['files']): ServedRecord => ({ version: 'v1', fingerprint: 'fp-1', remote: 'x', appliedAt: '', files });
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

describe('planFiles', () => {
  it('a directory: each file with its remote path, size, mtime and ETag; the bytes to fetch', () => {
    const p = planFiles(dir({ path: 'a.bin', size: 4, mtimeMs: 1000, etag: 'e1' }, { path: 'sub/b', size: 0 }), null, null, rules());
    expect(p).toMatchObject({ aspired, archive: false, totalBytes: 4, manifest: null });
    expect(p.files).toEqual([
      { path: 'a.bin', remote: 'models/m/a.bin', size: 4, mtimeMs: 1000, etag: 'e1' },
      { path: 'sub/b', remote: 'models/m/sub/b', size: 0 },
    ]);
  });

  it.each([
    [
      'a .tar.gz file is an archive',
      { entries: [{ path: 'm.tar.gz', size: 9 }], single: true },
      { aspired: { ...aspired, remoteModel: 'models/m.tar.gz' } },
      true,
    ],
    [
      'a single file named otherwise is not',
      { entries: [{ path: 'm.bin', size: 9 }], single: true },
      { aspired: { ...aspired, remoteModel: 'models/m.bin' } },
      false,
    ],
    ['--unpacked_filename makes a single file an archive', { entries: [{ path: 'm', size: 9 }], single: true }, { archive: true }, true],
    ['a directory is never one', dir({ path: 'x.tar', size: 9 }), {}, false],
  ] as [string, Listing, Partial<PlanRules>, boolean][])('%s', (_what, listing, o, archive) => {
    const p = planFiles(listing, null, null, rules(o));
    expect(p.archive).toBe(archive);
    if (listing.single) expect(p.files[0]!.remote).toBe(rules(o).aspired.remoteModel);
  });

  it('md5s: the manifest wins, a listed content md5 only where the source gives real ones', () => {
    const m: Manifest = new Map([['a.bin', MD5]]);
    const listing = dir({ path: 'a.bin', size: 0, md5: 'listed-a' }, { path: 'b', size: 0, md5: 'listed-b' });
    expect(planFiles(listing, m, null, rules()).files.map((f) => f.md5)).toEqual([MD5, undefined]);
    expect(planFiles(listing, m, null, rules({ listedMd5: true })).files.map((f) => f.md5)).toEqual([MD5, 'listed-b']);
  });

  it('the manifest named by --manifest is not a file of the model', () => {
    const p = planFiles(dir({ path: 'a', size: 1 }, { path: 'MANIFEST.md5', size: 40 }), null, null, rules({ manifestName: 'MANIFEST.md5' }));
    expect(p.files.map((f) => f.path)).toEqual(['a']);
  });

  it.each([
    ['no files', dir()],
    ['only the manifest', dir({ path: 'MANIFEST.md5', size: 40 })],
  ])('an empty model is refused: %s', (_what, listing) => {
    expect(() => planFiles(listing, null, null, rules({ manifestName: 'MANIFEST.md5' }))).toThrow(EmptyModelError);
  });

  describe('--incremental reuse', () => {
    const same = { path: 'w', size: 10, remoteMtimeMs: 5, etag: 'e' };
    const cases: [string, RemoteEntry, Partial<PlanRules>, boolean][] = [
      ['unchanged (same size and ETag): reused, not counted', { path: 'w', size: 10, etag: 'e' }, {}, true],
      ['a new ETag: fetched', { path: 'w', size: 10, etag: 'e2' }, {}, false],
      ['a new size: fetched', { path: 'w', size: 11, etag: 'e' }, {}, false],
      ['without --incremental: fetched', { path: 'w', size: 10, etag: 'e' }, { incremental: false }, false],
      ['the timestamp file is never reused', { path: 'fluid_time_file', size: 10, etag: 'e' }, {}, false],
    ];
    it.each(cases)('%s', (_what, entry, o, reused) => {
      const rec = served({ ...same, path: entry.path });
      const p = planFiles(dir(entry), null, rec, rules({ incremental: true, ...o }));
      expect(p.files[0]!.reuseFrom !== undefined).toBe(reused);
      expect(p.totalBytes).toBe(reused ? 0 : entry.size);
    });
  });
});

describe('unchanged (the quick check)', () => {
  const old = { path: 'a', size: 3, md5: 'm1', etag: 'e1', remoteMtimeMs: 7 };
  it.each([
    ['no served file', undefined, { size: 3 }, false],
    ['another size', old, { size: 4, md5: 'm1' }, false],
    ['md5s decide first', old, { size: 3, md5: 'm1', etag: 'other' }, true],
    ['a different md5', old, { size: 3, md5: 'm2' }, false],
    ['then ETags', old, { size: 3, etag: 'e1' }, true],
    ['a different ETag', old, { size: 3, etag: 'e2', mtimeMs: 7 }, false],
    ['then mtimes', { path: 'a', size: 3, remoteMtimeMs: 7 }, { size: 3, mtimeMs: 7 }, true],
    ['nothing to compare but the size: fetched', { path: 'a', size: 3 }, { size: 3 }, false],
  ] as const)('%s', (_what, o, e, want) => expect(unchanged(o, e)).toBe(want));
});
