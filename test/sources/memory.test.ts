/** The in-memory test Source (test/helpers/memory-source.ts) against the same suite as every real backend. */
import { MemorySource } from '../helpers/memory-source.js';
import { runSourceSuite } from '../conformance/source.suite.js';

runSourceSuite('memory (test-only)', async () => {
  const src = new MemorySource();
  return {
    async put(p, data) {
      src.put(p, data);
    },
    async remove(p) {
      src.remove(p);
    },
    source: () => src,
    dropNextDownload: (p, after) => src.dropNext(p, after),
    async close() {},
  };
});
