import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { file } from '../../src/sources/file.js';
import { silentLogger } from '../../src/log.js';
import { runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';

async function harness(): Promise<SourceHarness> {
  const root = await mkdtemp(path.join(tmpdir(), 'mm-file-'));
  const deps = { log: silentLogger(), timeoutMs: 10_000, concurrency: 4 };
  return {
    async put(p, data) {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await writeFile(path.join(root, p), data);
    },
    async putLarge(p, size) {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      const h = createHash('md5');
      const out = createWriteStream(path.join(root, p));
      const chunk = Buffer.alloc(1024 * 1024, 7);
      for (let left = size; left > 0; left -= chunk.length) {
        const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
        h.update(c);
        if (!out.write(c)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      return h.digest('hex');
    },
    async remove(p) {
      await rm(path.join(root, p), { force: true });
    },
    source: () => file.create(file.parse(new URL(`file://${root}`)), deps),
    async close() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

runSourceSuite('file', harness);
