/**
 * tar / tar.gz models (`--unpacked_filename`, Paddle's flag) stream straight
 * into staging; hostile entries are refused and nothing lands outside it.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { exists, readTree, touchDonefile } from '../helpers/producer.js';
import { rawTar, type RawEntry } from '../helpers/tar.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-tar-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const good: RawEntry[] = [
  { name: 'uci_housing_model/', type: '5' },
  { name: 'uci_housing_model/__model__', data: 'model v1\n' },
  { name: 'uci_housing_model/params/fc_0.w_0', data: 'weights\n' },
  { name: 'uci_housing_model/link-inside', type: '2', linkname: 'params/fc_0.w_0' },
];

async function setup(name: string, tar: Buffer) {
  const remote = path.join(dir, name, 'remote');
  const local = path.join(dir, name, 'local');
  await mkdir(remote, { recursive: true });
  await writeFile(path.join(remote, 'model.tar.gz'), gzipSync(tar));
  await touchDonefile(remote);
  const args = [
    'sync',
    '--remote',
    `file://${remote}`,
    '--remote_model_name',
    'model.tar.gz',
    '--remote_donefile_name',
    'donefile',
    '--unpacked_filename',
    'uci_housing_model',
    '--local_path',
    local,
  ];
  return { remote, local, args };
}

describe('tar models', () => {
  it('a tar.gz unpacks into the served model named by --unpacked_filename', async () => {
    const s = await setup('good', rawTar(good));
    const r = await run(s.args);
    expect(r.code, r.stderr).toBe(0);
    const served = await readTree(path.join(s.local, 'uci_housing_model'));
    expect(served['__model__']).toBe('model v1\n');
    expect(served['params/fc_0.w_0']).toBe('weights\n');
    expect(served['link-inside']).toBe('weights\n');
  });

  const hostile: [string, RawEntry][] = [
    ['a ../ entry', { name: 'uci_housing_model/../../escaped', data: 'x' }],
    ['an absolute path', { name: '/tmp/mm-escaped-abs', data: 'x' }],
    ['a symlink pointing outside', { name: 'uci_housing_model/evil', type: '2', linkname: '../../../../etc/passwd' }],
    ['an absolute symlink', { name: 'uci_housing_model/evil', type: '2', linkname: '/etc/passwd' }],
    ['a hardlink to outside', { name: 'uci_housing_model/hard', type: '1', linkname: '../outside' }],
    ['a device file', { name: 'uci_housing_model/dev', type: '3' }],
    ['a fifo', { name: 'uci_housing_model/fifo', type: '6' }],
  ];
  // Links that stay inside as strings and leave through the links before them (`a -> .`: a/a/.. is not the model dir).
  const dots = (n: number) => Array.from({ length: n }, () => '..').join('/');
  const as = (n: number) => Array.from({ length: n }, () => 'a').join('/');
  const chains: [string, RawEntry[]][] = [
    [
      'a symlink chain ending outside (escape -> a/…/a/../…/../etc)',
      [
        { name: 'uci_housing_model/a', type: '2', linkname: '.' },
        { name: 'uci_housing_model/escape', type: '2', linkname: `${as(20)}/${dots(20)}/etc` },
      ],
    ],
    [
      'a timestamp file linked out through a chain (fluid_time_file -> a/a/../../victim)',
      [
        { name: 'uci_housing_model/a', type: '2', linkname: '.' },
        { name: 'uci_housing_model/fluid_time_file', type: '2', linkname: 'a/a/../../victim' },
      ],
    ],
    [
      '30 nested l1 -> ../ links',
      [
        ...Array.from({ length: 30 }, (_, i): RawEntry => ({
          name: `uci_housing_model/${Array.from({ length: i }, () => 'd').join('/')}${i ? '/' : ''}d/`,
          type: '5',
        })),
        { name: `uci_housing_model/${Array.from({ length: 30 }, () => 'd').join('/')}/l1`, type: '2', linkname: '../' },
        { name: 'uci_housing_model/out', type: '2', linkname: `${Array.from({ length: 30 }, () => 'd').join('/')}/l1/${dots(30)}/victim` },
      ],
    ],
    [
      'a link that escapes only through a link extracted after it',
      [
        { name: 'uci_housing_model/early', type: '2', linkname: 'b/../victim' },
        { name: 'uci_housing_model/b', type: '2', linkname: '..' },
      ],
    ],
    [
      'a hard link to a symlink (it would resolve from another dir)',
      [
        { name: 'uci_housing_model/sub/', type: '5' },
        { name: 'uci_housing_model/sub/l', type: '2', linkname: '../params' },
        { name: 'uci_housing_model/h', type: '1', linkname: 'uci_housing_model/sub/l' },
      ],
    ],
  ];
  for (const [what, entries] of chains) {
    it(`refuses ${what}: exit 1, nothing outside touched, served model unchanged`, async () => {
      const s = await setup(what.replace(/\W+/g, '-').slice(0, 60), rawTar(good));
      expect((await run(s.args)).code).toBe(0);
      const victim = path.join(path.dirname(s.local), 'victim');
      await writeFile(victim, 'keep me\n');
      await writeFile(path.join(s.remote, 'model.tar.gz'), gzipSync(rawTar([...good, ...entries])));
      await touchDonefile(s.remote);
      const r = await run(s.args);
      expect(r.code, JSON.stringify(r.lines)).toBe(1);
      expect(JSON.stringify(r.lines)).toMatch(/refusing/);
      expect(await readFile(victim, 'utf8')).toBe('keep me\n');
      const served = await readTree(path.join(s.local, 'uci_housing_model'));
      expect(served['__model__']).toBe('model v1\n');
    });
  }
  for (const [what, entry] of hostile) {
    it(`refuses ${what}: exit 1, served model unchanged, nothing written outside staging`, async () => {
      const s = await setup(what.replace(/\W+/g, '-'), rawTar(good));
      expect((await run(s.args)).code).toBe(0);
      await writeFile(path.join(s.remote, 'model.tar.gz'), gzipSync(rawTar([...good, entry, { name: 'uci_housing_model/after', data: 'y' }])));
      await touchDonefile(s.remote);
      const r = await run(s.args);
      expect(r.code).toBe(1);
      expect(JSON.stringify(r.lines)).toMatch(/refusing/);
      const served = await readTree(path.join(s.local, 'uci_housing_model'));
      expect(served['__model__']).toBe('model v1\n');
      expect(served['after']).toBeUndefined();
      expect(await exists(path.join(s.local, 'escaped'))).toBe(false);
      expect(await exists('/tmp/mm-escaped-abs')).toBe(false);
      expect(await readdir(path.join(s.local, '_serving_monitor_tmp', 'uci_housing_model.staging')).catch(() => [])).toEqual([]);
    });
  }
});
