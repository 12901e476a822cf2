import { runSourceSuite } from '../conformance/source.suite.js';
import { ftpHarness, startFtpSrv } from '../servers/ftp-srv.js';

runSourceSuite('ftp (ftp-srv)', async () => {
  const srv = await startFtpSrv();
  return ftpHarness(srv, { dropNextDownload: (p, n) => srv.dropNextDownload(p, n) });
});
