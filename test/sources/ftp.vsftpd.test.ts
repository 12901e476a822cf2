import { describe } from 'vitest';
import { runDownloadExtras } from '../conformance/download-extra.suite.js';
import { runSourceSuite } from '../conformance/source.suite.js';
import { testWire } from '../helpers/wire.js';
import { ftpDownloadHarness, ftpHarness, largeBytes, runFtpServerChecks } from '../servers/ftp-srv.js';
import { startVsftpd, vsftpdMissing } from '../servers/vsftpd.js';

const missing = vsftpdMissing();
if (missing) console.warn(`skipping the vsftpd FTP tests: ${missing}`);

describe.skipIf(missing !== null)('vsftpd', () => {
  // vsftpd has no MLSD/MLST: LIST parsing, CWD + SIZE + MDTM for stat.
  runSourceSuite('ftp (vsftpd)', async () => ftpHarness(await startVsftpd()), { largeBytes: largeBytes() });
  runFtpServerChecks('vsftpd', startVsftpd, { mlsd: false });
  runDownloadExtras('ftp (vsftpd)', async () => ftpDownloadHarness(await startVsftpd()), testWire);
});
