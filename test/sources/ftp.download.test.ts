import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { download, runDownloadExtras, target } from '../conformance/download-extra.suite.js';
import { testWire } from '../helpers/wire.js';
import { ftpDownloadHarness, ftpHarness, ftpSourceFor, removeRoot, startFtpSrv } from '../servers/ftp-srv.js';

runDownloadExtras(
  'ftp (ftp-srv)',
  async () => {
    const srv = await startFtpSrv();
    return ftpDownloadHarness(srv, { dropNextDownload: (p, n) => srv.dropNextDownload(p, n) });
  },
  testWire,
);

it('ftp download() on the wire path: 16 files at once never open more control connections than --concurrency, each logged in once', async () => {
  const srv = await startFtpSrv();
  const wire = testWire();
  const local = await mkdtemp(path.join(tmpdir(), 'mm-ftp-pool-'));
  const src = ftpSourceFor(srv, { wire, concurrency: 3 });
  try {
    const { put } = await ftpHarness(srv);
    const files = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const data = randomBytes(200_000 + i);
        await put(`pool/f${i}.bin`, data);
        return { p: `pool/f${i}.bin`, data };
      }),
    );
    const signal = AbortSignal.timeout(60_000);
    const got = await Promise.all(files.map(async (f, i) => (await download(src, f.p, target(path.join(local, `f${i}`), f.data.length), { signal })).md5));
    expect(got).toEqual(files.map((f) => createHash('md5').update(f.data).digest('hex')));
    expect(srv.peakConnections()).toBeLessThanOrEqual(3);
    expect(srv.logins()).toBeLessThanOrEqual(3);
  } finally {
    await src.close();
    await wire.close();
    await srv.stop();
    await removeRoot(srv);
    await rm(local, { recursive: true, force: true });
  }
});
