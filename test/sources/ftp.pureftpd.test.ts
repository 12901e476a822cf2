import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors.js';
import { runDownloadExtras } from '../conformance/download-extra.suite.js';
import { runSourceSuite } from '../conformance/source.suite.js';
import { testWire } from '../helpers/wire.js';
import { ftpDownloadHarness, ftpHarness, ftpSourceFor, removeRoot, runFtpServerChecks, type FtpTestServer } from '../servers/ftp-srv.js';
import { pureFtpdMissing, startPureFtpd } from '../servers/pureftpd.js';

const missing = pureFtpdMissing();
if (missing) console.warn(`skipping the pure-ftpd FTP tests: ${missing}`);

describe.skipIf(missing !== null)('pure-ftpd', () => {
  // pure-ftpd has MLSD/MLST; logs in as a virtual user (password with a space).
  runSourceSuite('ftp (pure-ftpd)', async () => ftpHarness(await startPureFtpd()));
  runFtpServerChecks('pure-ftpd', startPureFtpd, { mlsd: true });
  runDownloadExtras('ftp (pure-ftpd)', async () => ftpDownloadHarness(await startPureFtpd()), testWire);

  describe('login', () => {
    let srv: FtpTestServer;
    beforeAll(async () => {
      srv = await startPureFtpd();
    });
    afterAll(async () => {
      await srv?.stop();
      if (srv) await removeRoot(srv);
    });

    it('a wrong password is an AuthError (530) that names the user, never the password', async () => {
      const src = ftpSourceFor(srv, { login: { user: srv.user!, password: 'not-the-Pa55' } });
      try {
        const err = await src.stat('x', { signal: AbortSignal.timeout(30_000) }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthError);
        expect((err as Error).message).toContain(`"${srv.user}"`);
        expect(JSON.stringify(err) + String((err as Error).stack)).not.toContain('not-the-Pa55');
      } finally {
        await src.close();
      }
    });

    it('anonymous is refused too (--noanonymous)', async () => {
      const src = ftpSourceFor(srv, { login: null });
      try {
        await expect(src.stat('x', { signal: AbortSignal.timeout(30_000) })).rejects.toBeInstanceOf(AuthError);
      } finally {
        await src.close();
      }
    });
  });
});
