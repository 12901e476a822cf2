/**
 * tar / tar.gz models (`--unpacked_filename`, Paddle's flag) stream straight
 * into staging; hostile entries are refused and nothing lands outside it.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
  const args = ['sync', '--remote', `file://${remote}`, '--remote_model_name', 'model.tar.gz', '--remote_donefile_name', 'donefile',
    '--unpacked_filename', 'uci_housing_model', '--local_path', local];
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
