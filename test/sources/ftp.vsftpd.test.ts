import { describe } from 'vitest';
import { runSourceSuite } from '../conformance/source.suite.js';
import { ftpHarness, largeBytes, runFtpServerChecks } from '../servers/ftp-srv.js';
import { startVsftpd, vsftpdMissing } from '../servers/vsftpd.js';

const missing = vsftpdMissing();
if (missing) console.warn(`skipping the vsftpd FTP tests: ${missing}`);

describe.skipIf(missing !== null)('vsftpd', () => {
  // vsftpd has no MLSD/MLST: LIST parsing, CWD + SIZE + MDTM for stat.
  runSourceSuite('ftp (vsftpd)', async () => ftpHarness(await startVsftpd()), { largeBytes: largeBytes() });
  runFtpServerChecks('vsftpd', startVsftpd, { mlsd: false });
});
