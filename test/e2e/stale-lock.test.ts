/**
 * A lock left by `kill -9` whose pid now belongs to another process (pid 1 in
 * a container) is stale: the holder is checked by pid and start time, not pid
 * alone. Before, every start exited 2 on such a lock.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { currentHolder } from '../../src/state.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-lock-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function setup(name: string) {
  const remote = path.join(dir, name, 'remote');
  const local = path.join(dir, name, 'local');
  await publish(remote, 'model', modelFiles(1));
  await mkdir(path.join(local, '_serving_monitor_tmp'), { recursive: true });
  const lock = path.join(local, '_serving_monitor_tmp', 'model.lock');
  const args = ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
  return { lock, args, local };
}

describe('the single-instance lock', () => {
  const stale: [string, () => Promise<string>][] = [
    ['a bare pid (older format) that is now pid 1, not a model-monitor', async () => '1\n'],
    ["pid 1 with a start time that is not pid 1's", async () => JSON.stringify({ ...(await currentHolder(1)), start: '1' })],
    ["this test runner's own pid, started at another time", async () => JSON.stringify({ ...(await currentHolder()), start: '2' })],
  ];
  for (const [what, content] of stale) {
    it(`a lock naming ${what} is taken over with a warning`, async () => {
      const s = await setup(what.replace(/\W+/g, '-').slice(0, 40));
      await writeFile(s.lock, await content());
      const r = await run(['sync', ...s.args]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines.some((l) => l.event === 'stale-lock')).toBe(true);
      expect(r.lines.some(updated)).toBe(true);
    });
  }

  it("a live monitor's lock (pid, start time, boot) still refuses a second one with exit 2", async () => {
    const s = await setup('live');
    const w = start(['watch', ...s.args, '--interval', '60']);
    try {
      await w.waitFor(updated, 'the first monitor serving');
      const held = JSON.parse(await readFile(s.lock, 'utf8')) as { pid: number; start?: string };
      expect(held.pid).toBe(w.child.pid);
      expect(held.start).toMatch(/^\d+$/);
      const r = await run(['sync', ...s.args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`pid ${w.child.pid}`));
    } finally {
      await w.stop();
    }
  });
});
