/** SIGTERM / SIGINT mid-transfer: the transfer aborts, staging is removed, exit 0 fast, served model untouched. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { start, updated } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree } from '../helpers/producer.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-term-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  it(`${sig} during a slow pull: exit 0 within seconds, staging removed, old model still served`, async () => {
    const remote = path.join(dir, 'remote');
    const local = path.join(dir, 'local');
    await publish(remote, 'model', modelFiles(1));
    const w = start([
      'watch',
      '--remote',
      `file://${remote}`,
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_path',
      local,
      '--interval',
      '0.05',
      '--bwlimit',
      '256k',
    ]);
    await w.waitFor(updated, 'first model');
    // version 2 holds 4 MiB: at 256 KiB/s it takes ~16 s, so the signal lands mid-transfer
    await publish(remote, 'model', modelFiles(2, { 'big.bin': randomBytes(4 * 1024 * 1024) }));
    await w.waitFor((l) => l.event === 'change' && w.count((x) => x.event === 'change') >= 2, 'second pull starting');
    const staging = path.join(local, '_serving_monitor_tmp', 'model.staging');
    const t0 = Date.now();
    const code = await w.stop(sig);
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await readdir(staging).catch(() => [])).toEqual([]);
    const served = await readTree(path.join(local, 'model'));
    delete served['fluid_time_file'];
    expect(served).toEqual(asStrings(modelFiles(1)));
  });
}
