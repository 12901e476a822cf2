/**
 * The local commands need only local flags: `status`, `rollback` and `accept`
 * run with --local_path / --local_model_name / --local_tmp_dir alone. After a
 * rollback, `sync` exits 0 while the operator's choice is served, and
 * `accept` lets the next sync, or a running watch's next poll, pull the
 * rejected donefile again. The remote line has one slash between host and model.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { removeRoot, startFtpSrv, type FtpSrvHandle } from '../servers/ftp-srv.js';

let srv: FtpSrvHandle;
let local: string;
beforeAll(async () => {
  srv = await startFtpSrv();
});
afterAll(async () => {
  await srv?.stop();
  if (srv) await removeRoot(srv);
});
beforeEach(async () => {
  local = await mkdtemp(path.join(tmpdir(), 'mm-local-'));
  return () => rm(local, { recursive: true, force: true });
});

const localFlags = () => [`--local_path=${local}`, '--local_model_name=uci_housing_model', '--local_tmp_dir=tmp'];
/** The Paddle tutorial's flags. */
const tutorial = () => [
  '--type=ftp',
  '--ftp_ip=127.0.0.1',
  `--ftp_port=${srv.port}`,
  '--remote_path=/',
  '--remote_model_name=uci_housing_model',
  '--remote_donefile_name=donefile',
  ...localFlags(),
];
const served = () => readFile(path.join(local, 'uci_housing_model', '__model__'), 'utf8');

async function twoVersions(): Promise<void> {
  await publish(srv.root, 'uci_housing_model', modelFiles(1));
  expect((await run(['sync', ...tutorial()])).code).toBe(0);
  await publish(srv.root, 'uci_housing_model', modelFiles(2));
  expect((await run(['sync', ...tutorial()])).code).toBe(0);
}

describe('status, rollback and accept with local flags only', () => {
  it('status: no remote flags needed; the remote line has a single slash, with or without remote flags', async () => {
    await publish(srv.root, 'uci_housing_model', modelFiles(1));
    expect((await run(['sync', ...tutorial()])).code).toBe(0);
    const want = `remote:    ftp://127.0.0.1:${srv.port}/uci_housing_model`;
    const full = await run(['status', ...tutorial()]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout.split('\n')).toContain(want);
    const bare = await run(['status', ...localFlags()]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout.split('\n')).toContain(want);
    expect(bare.stdout).toMatch(/^version: {3}\S+ \(3 files/m);
    const json = JSON.parse((await run(['status', ...localFlags(), '--json'])).stdout) as { remote: string };
    expect(json.remote).toBe(`ftp://127.0.0.1:${srv.port}/uci_housing_model`);
  });

  it('status without a model name (no --local_model_name, no remote) names the flag, exit 2', async () => {
    const r = await run(['status', `--local_path=${local}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--local-model-name/);
  });

  it('rollback, then sync exits 0 with a clear line; accept lets the next sync pull the rejected donefile', async () => {
    await twoVersions();
    const rb = await run(['rollback', ...localFlags()]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(await served()).toBe('model version 1\n');

    const sync = await run(['sync', ...tutorial()]);
    expect(sync.code, sync.stderr).toBe(0);
    const line = sync.lines.find((l) => l.event === 'rolled-back');
    expect(line?.msg).toMatch(/chosen by rollback.*accept/);
    expect(await served()).toBe('model version 1\n');

    const acc = await run(['accept', ...localFlags()]);
    expect(acc.code, acc.stderr).toBe(0);
    expect(acc.stdout).toMatch(/^accepted mtime:/);
    const st = JSON.parse((await run(['status', ...localFlags(), '--json'])).stdout) as { rejected: unknown };
    expect(st.rejected).toBeNull();

    const again = await run(['sync', ...tutorial()]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.lines.some(updated)).toBe(true);
    expect(await served()).toBe('model version 2\n');

    const none = await run(['accept', ...localFlags()]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/nothing to accept/);
  });

  it('a rejection by --validate still makes sync exit 1 (only the operator’s choice is "current")', async () => {
    await publish(srv.root, 'uci_housing_model', modelFiles(1));
    expect((await run(['sync', ...tutorial()])).code).toBe(0);
    await publish(srv.root, 'uci_housing_model', modelFiles(2));
    expect((await run(['sync', ...tutorial(), '--validate', 'exit 3'])).code).toBe(1);
    expect((await run(['sync', ...tutorial()])).code).toBe(1);
    expect((await run(['accept', ...localFlags()])).code).toBe(0);
    expect((await run(['sync', ...tutorial()])).code).toBe(0);
    expect(await served()).toBe('model version 2\n');
  });

  it('a running watch pulls the rejected donefile on its next poll after accept', async () => {
    await twoVersions();
    expect((await run(['rollback', ...localFlags()])).code).toBe(0);
    const w = start(['watch', ...tutorial(), '--interval=0.2']);
    try {
      await w.waitFor((l) => l.event === 'rejected', 'watch says the donefile is rejected');
      expect(w.count(updated)).toBe(0);
      const acc = await run(['accept', ...localFlags()]);
      expect(acc.code, acc.stderr).toBe(0);
      await w.waitFor(updated, 'watch pulls it after accept');
      expect(await served()).toBe('model version 2\n');
      expect(w.count((l) => l.event === 'rejected')).toBe(1); // said once, not every poll
    } finally {
      expect(await w.stop()).toBe(0);
    }
  });
});
