/** verify(): the staged tree against the plan, per --verify mode. Pure, table-driven. */
import { describe, expect, it } from 'vitest';
import { EmptyModelError, IntegrityError } from '../../src/errors.js';
import type { FileRecord, Staged } from '../../src/model.js';
import type { FetchPlan, PlannedFile } from '../../src/plan.js';
import { verify, type VerifyOptions } from '../../src/verify.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const aspired = { version: 'v', fingerprint: 'fp', remoteModel: 'm' };
const planned = (files: PlannedFile[], manifest: [string, string][] | null = null, archive = false): FetchPlan => ({
  aspired,
  archive,
  files,
  totalBytes: files.reduce((n, f) => n + f.size, 0),
  manifest: manifest && new Map(manifest),
});
const staged = (files: FileRecord[], archive?: FileRecord): Staged => ({ dir: '/staging/model', aspired, files, ...(archive ? { archive } : {}) });
const pf = (path: string, size: number, md5?: string): PlannedFile => ({ path, remote: `m/${path}`, size, ...(md5 ? { md5 } : {}) });

type Case = [string, FetchPlan, Staged, VerifyOptions['mode'], RegExp | null];

const cases: Case[] = [
  ['sizes match', planned([pf('a', 1)]), staged([{ path: 'a', size: 1 }]), 'size', null],
  ['a size differs', planned([pf('a', 1)]), staged([{ path: 'a', size: 2 }]), 'size', /a: 2 bytes staged, 1 listed/],
  ['a listed file is missing', planned([pf('a', 1), pf('b', 1)]), staged([{ path: 'a', size: 1 }]), 'auto', /b was listed but is not in the staged model/],
  ['--verify none checks nothing but emptiness', planned([pf('a', 1)]), staged([{ path: 'a', size: 9 }]), 'none', null],
  ['an empty staged model is refused, whatever the mode', planned([pf('a', 1)]), staged([]), 'none', /no files/],
  ['md5s match the manifest', planned([pf('a', 1, A)], [['a', A]]), staged([{ path: 'a', size: 1, md5: A }]), 'md5', null],
  ['an md5 differs from the manifest', planned([pf('a', 1, A)], [['a', A]]), staged([{ path: 'a', size: 1, md5: B }]), 'auto', /differs from the manifest/],
  [
    'a manifest file not in the model',
    planned(
      [pf('a', 1)],
      [
        ['a', A],
        ['gone', B],
      ],
    ),
    staged([{ path: 'a', size: 1, md5: A }]),
    'auto',
    /gone is in the manifest but not in the remote model/,
  ],
  [
    'a model file not in the manifest',
    planned([pf('a', 1), pf('x', 1)], [['a', A]]),
    staged([
      { path: 'a', size: 1, md5: A },
      { path: 'x', size: 1, md5: B },
    ]),
    'auto',
    /x is in the remote model but not in the manifest/,
  ],
  [
    "our own files (the timestamp file) are not the producer's",
    planned([pf('a', 1)], [['a', A]]),
    staged([
      { path: 'a', size: 1, md5: A },
      { path: 'fluid_time_file', size: 10 },
    ]),
    'auto',
    null,
  ],
  ['a planned md5 (a content ETag) that differs', planned([pf('a', 1, A)]), staged([{ path: 'a', size: 1, md5: B }]), 'auto', /a: md5 b+, expected a+/],
  [
    'an archive: the manifest may name the archive itself',
    planned([pf('m.tgz', 5)], [['m.tgz', A]], true),
    staged([{ path: 'x', size: 1 }], { path: 'm.tgz', size: 5, md5: A }),
    'auto',
    null,
  ],
  [
    'an archive whose md5 differs',
    planned([pf('m.tgz', 5)], [['m.tgz', A]], true),
    staged([{ path: 'x', size: 1 }], { path: 'm.tgz', size: 5, md5: B }),
    'auto',
    /m.tgz: md5 differs/,
  ],
  [
    'an archive: sizes are of what it unpacked to, not checked against the listing',
    planned([pf('m.tgz', 5)], null, true),
    staged([{ path: 'x', size: 100 }]),
    'size',
    null,
  ],
];

describe('verify', () => {
  it.each(cases)('%s', (_what, p, s, mode, fails) => {
    const run = () => verify(p, s, { mode, ignore: ['fluid_time_file'] });
    if (fails === null) expect(run().dir).toBe(s.dir);
    else {
      expect(run).toThrow(fails);
      expect(run).toThrow(/no files/.test(fails.source) ? EmptyModelError : IntegrityError);
    }
  });
});
