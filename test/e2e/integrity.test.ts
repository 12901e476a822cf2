/**
 * Verification end to end: md5 manifests (donefile or --manifest), --detect
 * content, --validate, rollback. The served model is never replaced by a
 * model that failed a check, and the next good model still lands.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { md5, modelFiles, publish, type ModelFiles } from '../helpers/producer.js';

let dir: string;
let remote: string;
let local: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-int-'));
  remote = path.join(dir, 'remote');
  local = path.join(dir, 'local');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const base = () => ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
const manifestOf = (files: ModelFiles) =>
  Object.entries(files)
    .map(([p, d]) => `${md5(d)}  ${p}`)
    .join('\n') + '\n';
const servedModel = () => readFile(path.join(local, 'model', '__model__'), 'utf8');

describe('md5 manifest in the donefile (md5sum format)', () => {
  it('a matching model is served; a corrupted file is rejected; the next good one lands', async () => {
    const v1 = modelFiles(1);
    await publish(remote, 'model', v1, { donefileContent: manifestOf(v1) });
    expect((await run(['sync', ...base()])).code).toBe(0);

    const v2 = modelFiles(2);
    await publish(remote, 'model', { ...v2, 'params/fc_0.b_0': 'corrupted\n' }, { donefileContent: manifestOf(v2) });
    const bad = await run(['sync', ...base()]);
    expect(bad.code).toBe(1);
    expect(JSON.stringify(bad.lines)).toMatch(/md5/);
    expect(await servedModel()).toBe('model version 1\n');

    await publish(remote, 'model', v2, { donefileContent: manifestOf(v2) });
    expect((await run(['sync', ...base()])).code).toBe(0);
    expect(await servedModel()).toBe('model version 2\n');
  });

  it('missing and extra files reject the model', async () => {
    const v1 = modelFiles(1);
    await publish(remote, 'model', v1, { donefileContent: manifestOf({ ...v1, 'params/missing': 'x' }) });
    const missing = await run(['sync', ...base()]);
    expect(missing.code).toBe(1);
    expect(JSON.stringify(missing.lines)).toMatch(/in the manifest but not/);

    await publish(remote, 'model', { ...v1, extra: 'surprise' }, { donefileContent: manifestOf(v1) });
    const extra = await run(['sync', ...base()]);
    expect(extra.code).toBe(1);
    expect(JSON.stringify(extra.lines)).toMatch(/not in the manifest/);
  });

  it('--manifest NAME inside the model dir works the same; --verify md5 without one is an error', async () => {
    const v1 = modelFiles(1);
    await publish(remote, 'model', { ...v1, MD5SUMS: manifestOf(v1) });
    expect((await run(['sync', ...base(), '--manifest', 'MD5SUMS'])).code).toBe(0);
    await publish(remote, 'model', modelFiles(2));
    const r = await run(['sync', ...base(), '--verify', 'md5']);
    expect(r.code).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/needs a manifest/);
  });
});

describe('--detect content', () => {
  it('sees a donefile rewritten within the same second (same mtime, same size)', async () => {
    await publish(remote, 'model', modelFiles(1), { donefileContent: 'aaaa\n' });
    const done = path.join(remote, 'donefile');
    const { mtime } = await stat(done);
    expect((await run(['sync', ...base(), '--detect', 'content'])).code).toBe(0);
    await publish(remote, 'model', modelFiles(2), { donefileContent: 'bbbb\n' });
    const { utimes } = await import('node:fs/promises');
    await utimes(done, mtime, mtime);
    expect((await run(['sync', ...base()])).lines.some((l) => l.event === 'change')).toBe(true);
    expect(await servedModel()).toBe('model version 2\n');
    await publish(remote, 'model', modelFiles(3), { donefileContent: 'cccc\n' });
    await utimes(done, mtime, mtime);
    expect((await run(['sync', ...base(), '--detect', 'content'])).code).toBe(0);
    expect(await servedModel()).toBe('model version 3\n');
  });
});

describe('--validate', () => {
  it('a rejecting command keeps the served model; the same donefile is not retried until it changes', async () => {
    await publish(remote, 'model', modelFiles(1));
    const validate = ['--validate', 'grep -q "version 1$\\|version 3$" "$MODEL_DIR/__model__"'];
    const w = start(['watch', ...base(), ...validate, '--interval', '0.05', '--log-level', 'debug']);
    try {
      await w.waitFor(updated, 'v1');
      await publish(remote, 'model', modelFiles(2));
      await w.waitFor((l) => l.event === 'sync-failed' && /validate/.test(JSON.stringify(l)), 'v2 rejected');
      // Ten polls later, v2 was pulled exactly once.
      const skipped = (l: { event?: string; outcome?: unknown }) => l.event === 'cycle' && l.outcome === 'skipped-rejected';
      await w.waitFor((l) => skipped(l) && w.count(skipped) >= 10, 'ten polls skipping the rejected donefile');
      const changesBefore = w.count((l) => l.event === 'change');
      await publish(remote, 'model', modelFiles(3));
      await w.waitFor((l) => updated(l) && w.count(updated) === 2, 'v3 lands');
      expect(w.count((l) => l.event === 'change')).toBe(changesBefore + 1);
      expect(w.count((l) => l.event === 'sync-failed')).toBe(1);
      expect(await servedModel()).toBe('model version 3\n');
    } finally {
      await w.stop();
    }
  });
});

describe('rollback', () => {
  it('puts the newest backup back, touches the timestamp file, and status shows it', async () => {
    await publish(remote, 'model', modelFiles(1));
    await run(['sync', ...base()]);
    await publish(remote, 'model', modelFiles(2));
    await run(['sync', ...base()]);
    const ts = path.join(local, 'model', 'fluid_time_file');
    const before = Number(await readFile(ts, 'utf8'));
    const r = await run(['rollback', ...base()]);
    expect(r.code, r.stderr).toBe(0);
    expect(await servedModel()).toBe('model version 1\n');
    expect(Math.floor((await stat(ts)).mtimeMs / 1000)).toBeGreaterThan(before);
    const st = JSON.parse((await run(['status', ...base(), '--json'])).stdout) as { rejected: { reason: string }; backups: unknown[] };
    expect(st.rejected.reason).toMatch(/rolled back/);
    // the rolled-back donefile is not pulled again (and sync says the operator's choice is served: exit 0)...
    expect((await run(['sync', ...base()])).code).toBe(0);
    expect(await servedModel()).toBe('model version 1\n');
    // ...until the producer publishes a new one
    await publish(remote, 'model', modelFiles(3));
    expect((await run(['sync', ...base()])).code).toBe(0);
    expect(await servedModel()).toBe('model version 3\n');
  });

  it('with no backup: exit 1 and a clear message', async () => {
    await publish(remote, 'model', modelFiles(1));
    await run(['sync', ...base()]);
    const r = await run(['rollback', ...base()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no backup/);
  });
});
