import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { WireEngine } from '../../src/wire/engine.js';
import { http } from '../../src/sources/http.js';
import type { RemoteEntry, Source } from '../../src/sources/types.js';
import { digest, runSourceSuite, type SourceHarness } from '../conformance/source.suite.js';
import { dirFiles, type DirFiles } from '../servers/http.js';
import { nginxUnavailable, startNginx, type NginxHandle } from '../servers/nginx.js';
import { freePort } from '../servers/ports.js';
import { sourceWith } from '../helpers/source.js';

const deps = { log: silentLogger(), timeoutMs: 15_000, concurrency: 4 };
const signal = () => AbortSignal.timeout(60_000);
// A socket-fed download leaves up to ~64 MB of received Buffers for V8 to collect (its external-memory
// GC trigger), so a fresh process's RSS peaks ~70 MB above its start however large the file: 160 MiB
// keeps the suite's "growth < size/2" check meaningful without that constant making it flaky.
const LARGE = 160 * 1024 * 1024;
const PREFIX = 'models';
const why = await nginxUnavailable();
if (why) console.warn(`skipping the nginx source tests: ${why}`);

const source = (url: string, wire?: WireEngine): Source => sourceWith(http, url, {}, { ...deps, ...(wire ? { wire } : {}) });

async function served(): Promise<{ root: string; nginx: NginxHandle }> {
  const root = await mkdtemp(path.join(tmpdir(), 'mm-nginx-root-'));
  await mkdir(path.join(root, PREFIX));
  try {
    return { root, nginx: await startNginx(root) };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

async function harness(): Promise<SourceHarness> {
  const { root, nginx } = await served();
  const deadPort = await freePort();
  return {
    ...dirFiles(root, PREFIX),
    source: () => source(`${nginx.url}/${PREFIX}`),
    wireSource: (wire) => source(`${nginx.url}/${PREFIX}`, wire),
    unreachable: () => source(`http://127.0.0.1:${deadPort}/${PREFIX}`),
    async close() {
      await nginx.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

describe.skipIf(why !== null)('nginx autoindex', () => {
  runSourceSuite('http (nginx autoindex)', harness, { largeBytes: LARGE });

  describe('nginx specifics', () => {
    let root: string;
    let nginx: NginxHandle;
    let src: Source;
    let files: DirFiles;
    beforeAll(async () => {
      ({ root, nginx } = await served());
      src = source(`${nginx.url}/${PREFIX}`);
      files = dirFiles(root, PREFIX);
    });
    afterAll(async () => {
      await src?.close();
      await nginx?.close();
      if (root) await rm(root, { recursive: true, force: true });
    });

    it('long names (truncated in the page text), colons, ampersands, sizes from HEAD not the rounded column', async () => {
      const long = `${'embedding_table_shard_'.repeat(4)}00017-of-00032.bin`;
      const big = Buffer.alloc(1_234_567, 1); // nginx shows "1205K" (or "1.2M") in the index
      await files.put(`m/${long}`, 'x');
      await files.put('m/ckpt:step=100.txt', 'colon'); // nginx writes href="./ckpt:…" (a bare `ckpt:` would be a URL scheme)
      await files.put('m/r&d #1.txt', 'amp');
      await files.put('m/sub/big.bin', big);
      const got: RemoteEntry[] = [];
      for await (const e of src.list('m', { signal: signal() })) got.push(e);
      got.sort((a, b) => (a.path < b.path ? -1 : 1));
      expect(got.map((e) => [e.path, e.size])).toEqual([
        ['ckpt:step=100.txt', 5],
        [long, 1],
        ['r&d #1.txt', 3],
        ['sub/big.bin', big.length],
      ]);
      expect(got.every((e) => e.etag && e.mtimeMs)).toBe(true);
      expect((await digest(src, 'm/r&d #1.txt')).bytes).toBe(3);
    });

    it('stat: nginx redirects dir → dir/ (301): a directory', async () => {
      await files.put('d/x', 'x');
      expect(await src.stat('d', { signal: signal() })).toMatchObject({ isDirectory: true });
      expect(await src.stat('', { signal: signal() })).toMatchObject({ isDirectory: true });
      expect(await src.stat('d/x', { signal: signal() })).toMatchObject({ size: 1 });
    });
  });
});
