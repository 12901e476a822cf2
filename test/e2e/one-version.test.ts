/**
 * A model re-published in place while it is being pulled is never served
 * mixed. A slow pull (--bwlimit, one file at a time) has fetched a.bin when the
 * producer overwrites every file with a new version and touches the donefile:
 * the next read answers for a file that is not the listed one (HTTP: ETag and
 * Last-Modified; FTP: SIZE, then a second listing), the staging is discarded
 * and the pull starts over. Before, the monitor served a.bin of v1 beside
 * b..d of v2 and exited 0.
 */
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { start } from '../helpers/cli.js';
import { touchDonefile, writeTree } from '../helpers/producer.js';
import { waitFor } from '../servers/ports.js';
import { removeRoot, startFtpSrv, worldReadableTempDir } from '../servers/ftp-srv.js';
import { startHttpFileServer } from '../servers/http.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
});

const NAMES = ['a.bin', 'b.bin', 'c.bin', 'd.bin'];
/** Version n: every file names n, and n sets its size (so even a size check tells versions apart). */
const version = (n: number) => Object.fromEntries(NAMES.map((f) => [f, Buffer.alloc(256 * 1024 + n * 1000, `${f} of version ${n}|`)]));

async function stagedWhole(local: string, name: string, size: number): Promise<boolean> {
  const root = path.join(local, '_serving_monitor_tmp', 'model.staging');
  for (const v of await readdir(root).catch(() => [] as string[])) {
    const st = await stat(path.join(root, v, 'model', name)).catch(() => null);
    if (st?.size === size) return true;
  }
  return false;
}

/** The served model's files each say which version they are: one number, or several when mixed. */
async function versionsServed(local: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of NAMES) out.add(/of version (\d+)/.exec(await readFile(path.join(local, 'model', f), 'latin1'))?.[1] ?? '?');
  return out;
}

async function scenario(remoteUrl: string, root: string, local: string) {
  await writeTree(path.join(root, 'model'), version(1));
  await touchDonefile(root);
  const w = start([
    'sync',
    '--remote',
    remoteUrl,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    '--local_path',
    local,
    '--concurrency',
    '1',
    '--part-size',
    '0',
    '--bwlimit',
    '256k',
  ]);
  cleanup.push(() => w.stop());
  await waitFor(() => stagedWhole(local, 'a.bin', version(1)['a.bin']!.length), 'a.bin of v1 staged', 60_000);
  // The producer writes v2 over v1 in place, then the donefile.
  for (const [f, data] of Object.entries(version(2))) await writeFile(path.join(root, 'model', f), data);
  await touchDonefile(root);
  const code = await w.exited;
  return { code, w };
}

describe('a model overwritten in place during a pull', () => {
  it('HTTP: discarded and pulled again; one version served', async () => {
    const root = await worldReadableTempDir('mm-onever-http-');
    const local = await worldReadableTempDir('mm-onever-http-l-');
    cleanup.push(
      () => rm(root, { recursive: true, force: true }),
      () => rm(local, { recursive: true, force: true }),
    );
    const srv = await startHttpFileServer(root);
    cleanup.push(() => srv.close());
    const { code, w } = await scenario(srv.url, root, local);
    expect(code, w.stderr()).toBe(0);
    expect([...(await versionsServed(local))]).toEqual(['2']);
    expect(
      w.lines.some((l) => l.event === 'model-changed'),
      'the change was noticed',
    ).toBe(true);
  }, 120_000);

  it('FTP: discarded and pulled again; one version served', async () => {
    const srv = await startFtpSrv();
    const local = await worldReadableTempDir('mm-onever-ftp-l-');
    cleanup.push(
      () => srv.stop(),
      () => removeRoot(srv),
      () => rm(local, { recursive: true, force: true }),
    );
    const root = path.join(srv.root, 'models');
    const { code, w } = await scenario(`ftp://127.0.0.1:${srv.port}/models`, root, local);
    expect(code, w.stderr()).toBe(0);
    expect([...(await versionsServed(local))]).toEqual(['2']);
    expect(
      w.lines.some((l) => l.event === 'model-changed'),
      'the change was noticed',
    ).toBe(true);
  }, 120_000);
});
