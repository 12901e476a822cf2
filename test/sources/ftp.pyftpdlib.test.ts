import { describe } from 'vitest';
import { runDownloadExtras } from '../conformance/download-extra.suite.js';
import { runSourceSuite } from '../conformance/source.suite.js';
import { testWire } from '../helpers/wire.js';
import { ftpDownloadHarness, ftpHarness, runFtpServerChecks } from '../servers/ftp-srv.js';
import { pyftpdlibMissing, startPyftpdlib } from '../servers/pyftpdlib.js';

const missing = pyftpdlibMissing();
if (missing) console.warn(`skipping the pyftpdlib FTP tests: ${missing}`);

describe.skipIf(missing !== null)('pyftpdlib', () => {
  // pyftpdlib has MLSD/MLST and UTF-8 names.
  runSourceSuite('ftp (pyftpdlib)', async () => ftpHarness(await startPyftpdlib()));
  runFtpServerChecks('pyftpdlib', startPyftpdlib, { mlsd: true });
  runDownloadExtras('ftp (pyftpdlib)', async () => ftpDownloadHarness(await startPyftpdlib()), testWire);
});
