import { writeLargeFile } from '../helpers/large.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { file } from '../../src/sources/file.js';
import { silentLogger } from '../../src/log.js';
import { runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { sourceWith } from '../helpers/source.js';

async function harness(): Promise<SourceHarness> {
  const root = await mkdtemp(path.join(tmpdir(), 'mm-file-'));
  const deps = { log: silentLogger(), timeoutMs: 10_000, concurrency: 4 };
  return {
    async put(p, data) {
      await mkdir(path.dirname(path.join(root, p)), { recursive: true });
      await writeFile(path.join(root, p), data);
    },
    putLarge: (p, size) => writeLargeFile(path.join(root, p), size),
    async remove(p) {
      await rm(path.join(root, p), { force: true });
    },
    source: () => sourceWith(file, `file://${root}`, {}, deps),
    async close() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

runSourceSuite('file', harness);
