import { runWriterSuite } from '../conformance/writer.suite.js';
import { startTarget, targetMissing, type TargetKind } from '../helpers/targets.js';

const kinds: TargetKind[] = ['file', 'ftp-srv', 'vsftpd', 's3rver', 'webhdfs'];
for (const k of kinds) {
  const missing = targetMissing(k);
  if (missing) console.warn(`skipping the ${k} writer suite: ${missing}`);
  else runWriterSuite(k, () => startTarget(k));
}
