/**
 * Symbolic links planted in the work dir in place of what model-monitor
 * keeps there (staging, backups, versions, trash, the timestamp mirror, the
 * record) are refused at start with exit 2, and their targets are left as
 * they were. Before, a sync emptied a linked staging dir's target, moved the
 * served model into a linked backups dir and overwrote a linked timestamp file.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-planted-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const cases: [string, 'dir' | 'file', string[]][] = [
  ['model.staging', 'dir', []],
  ['model.backups', 'dir', []],
  ['model.backups.trash', 'dir', []],
  ['model.timestamp', 'file', []],
  ['model.served.json', 'file', []],
  ['model.versions', 'dir', ['--swap', 'symlink']],
  ['model.version-records', 'dir', ['--swap', 'versioned']],
  ['model.trash', 'dir', ['--swap', 'versioned']],
];

describe('planted symbolic links in the work dir', () => {
  for (const [name, kind, extra] of cases) {
    it(`${name} -> elsewhere: exit 2 naming it, the target untouched`, async () => {
      const base = path.join(dir, name);
      const remote = path.join(base, 'remote');
      const local = path.join(base, 'local');
      const work = path.join(local, '_serving_monitor_tmp');
      const victim = path.join(base, 'victim');
      const args = [
        'sync',
        '--remote',
        `file://${remote}`,
        '--remote_model_name',
        'model',
        '--remote_donefile_name',
        'donefile',
        '--local_path',
        local,
        ...extra,
      ];
      await publish(remote, 'model', modelFiles(1));
      expect((await run(args)).code).toBe(0);
      await publish(remote, 'model', modelFiles(2));
      if (kind === 'dir') {
        await mkdir(victim, { recursive: true });
        await writeFile(path.join(victim, 'precious'), 'keep me\n');
      } else {
        await writeFile(victim, 'keep me\n');
      }
      await rm(path.join(work, name), { recursive: true, force: true });
      await symlink(victim, path.join(work, name));
      const r = await run(args);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toContain(path.join(work, name));
      expect(r.stderr).toMatch(/symbolic link/);
      if (kind === 'dir') {
        expect(await readdir(victim)).toEqual(['precious']);
        expect(await readFile(path.join(victim, 'precious'), 'utf8')).toBe('keep me\n');
      } else {
        expect(await readFile(victim, 'utf8')).toBe('keep me\n');
      }
    });
  }
});
