/**
 * Fault injection against a real FTP server (ftp-srv in-process): the
 * connection dropped at random byte offsets, the server killed in the middle
 * of a transfer. Each time the served model is unchanged or complete, and
 * once the fault is gone the latest model is applied.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { run, start, updated } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { removeRoot, startFtpSrv, worldReadableTempDir } from '../servers/ftp-srv.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
});

it('connection dropped at 8 random byte offsets: every pull arrives byte-exact', async () => {
  const srv = await startFtpSrv();
  const local = await worldReadableTempDir('mm-drops-');
  cleanup.push(
    () => srv.stop(),
    () => removeRoot(srv),
    () => rm(local, { recursive: true, force: true }),
  );
  const remote = path.join(srv.root, 'models');
  const args = [
    'sync',
    '--remote',
    `ftp://127.0.0.1:${srv.port}/models`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    local,
  ];
  const offsets: number[] = [];
  for (let n = 1; n <= 8; n++) {
    const big = randomBytes(2 * 1024 * 1024 + randomInt(1000));
    await publish(remote, 'model', modelFiles(n, { 'big.bin': big }));
    const at = randomInt(1, big.length - 1);
    offsets.push(at);
    srv.dropNextDownload('model/big.bin', at);
    const r = await run(args);
    expect(r.code, `drop at ${at}: ${r.stderr}`).toBe(0);
    expect(Buffer.compare(await readFile(path.join(local, 'model', 'big.bin')), big), `drop at ${at}`).toBe(0);
    expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe(`model version ${n}\n`);
  }
  console.log(`dropped at offsets: ${offsets.join(', ')}`);
});

it('the server killed mid-transfer: the served model is unchanged; after the restart the latest model lands', async () => {
  const srv = await startFtpSrv();
  const local = await worldReadableTempDir('mm-kill-srv-');
  cleanup.push(
    () => removeRoot(srv),
    () => rm(local, { recursive: true, force: true }),
  );
  const remote = path.join(srv.root, 'models');
  await publish(remote, 'model', modelFiles(1));
  const w = start([
    'watch',
    '--remote',
    `ftp://127.0.0.1:${srv.port}/models`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    local,
    '--interval',
    '0.1',
    '--bwlimit',
    '1M',
    '--retries',
    '1',
    '--timeout',
    '3',
  ]);
  cleanup.push(() => w.stop());
  await w.waitFor(updated, 'v1');
  await publish(remote, 'model', modelFiles(2, { 'big.bin': randomBytes(3 * 1024 * 1024) }));
  await w.waitFor((l) => l.event === 'change' && w.count((x) => x.event === 'change') === 2, 'v2 transfer starting');
  await srv.stop(); // mid-transfer: 3 MiB at 1 MiB/s
  await w.waitFor((l) => l.event === 'sync-failed', 'the failed sync');
  expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
  const again = await startFtpSrv({ root: srv.root, port: srv.port });
  cleanup.push(() => again.stop());
  await publish(remote, 'model', modelFiles(3, { 'big.bin': randomBytes(1024 * 1024) }));
  await w.waitFor((l) => updated(l) && l.version !== undefined && w.count(updated) >= 2, 'the latest model after the restart', 120_000);
  expect(await readFile(path.join(local, 'model', '__model__'), 'utf8')).toBe('model version 3\n');
});
