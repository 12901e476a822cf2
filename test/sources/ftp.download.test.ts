import { runDownloadSuite } from '../conformance/download.suite.js';
import { testWire } from '../helpers/wire.js';
import { ftpDownloadHarness, startFtpSrv } from '../servers/ftp-srv.js';

runDownloadSuite(
  'ftp (ftp-srv)',
  async () => {
    const srv = await startFtpSrv();
    return ftpDownloadHarness(srv, { dropNextDownload: (p, n) => srv.dropNextDownload(p, n) });
  },
  testWire,
);
