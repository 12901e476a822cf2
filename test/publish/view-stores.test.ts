/**
 * The monitor's view of a published model over every writable store, against
 * the one-version checks (same-version.ts): a read's answer (openedMeta) is
 * given in the logical file's terms, so a monitor pulling a published model
 * passes the checks (every read vouches for its version, as confirm.ts
 * counts), and a read that lands on another version's object than the one
 * listed is a ModelChangedError, never mixed bytes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHUNKING } from '../../src/chunk/cdc.js';
import { ModelChangedError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { scanLocal } from '../../src/publish/local.js';
import { publish, type PublishOptions } from '../../src/publish/publish.js';
import type { Writer } from '../../src/publish/types.js';
import { publishedView } from '../../src/publish/view.js';
import { checkRead, versionDiff } from '../../src/same-version.js';
import { openedMeta, type RemoteEntry, type Source } from '../../src/sources/types.js';
import { MiB, pseudoRandom } from '../helpers/bytes.js';
import { writeTree } from '../helpers/producer.js';
import { startTarget, targetMissing, type Target, type TargetKind } from '../helpers/targets.js';

const io = () => ({ signal: AbortSignal.timeout(60_000) });
const ro = { model: 'model', donefile: 'donefile', timeoutMs: 20_000, retries: 2, log: silentLogger() };
const pubOpts = (): PublishOptions => ({
  ...ro,
  keepVersions: 3,
  chunking: { params: DEFAULT_CHUNKING, threshold: MiB },
  concurrency: 2,
  signal: AbortSignal.timeout(120_000),
});

async function listed(view: Source): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of view.list('model', io())) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function md5Of(s: Readable): Promise<string> {
  const h = createHash('md5');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

const kinds: TargetKind[] = ['file', 'ftp-srv', 'vsftpd', 's3rver', 'webhdfs'];
for (const kind of kinds) {
  describe.skipIf(targetMissing(kind) !== null)(`the view of a published model over ${kind}`, () => {
    let dir: string;
    let t: Target;
    let w: Writer;
    let src: Source;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'mm-view-'));
      t = await startTarget(kind);
      [w, src] = [t.writer(), t.source()];
      await writeTree(dir, { 'a.txt': 'one', 'sub/big.bin': pseudoRandom(2 * MiB, 7) });
      await publish(await scanLocal(dir, 'model'), src, w, pubOpts());
    }, 120_000);
    afterAll(async () => {
      await Promise.all([w?.close(), src?.close()]);
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('every read answers with the listed version of its logical file: the checks pass and vouch for each', async () => {
      const view = publishedView(t.source(), ro);
      try {
        expect((await view.stat('model', io()))?.isDirectory).toBe(true);
        const files = await listed(view);
        expect(files.map((e) => e.path)).toEqual(['a.txt', 'sub/big.bin']);
        const confirmed: string[] = [];
        for (const e of files) {
          const remote = `model/${e.path}`;
          const whole = await view.open(remote, io());
          checkRead(view, { ...e, remote }, whole, (p) => confirmed.push(p));
          const seen = openedMeta(whole)!;
          expect(seen.etag).toBe(e.etag);
          if (seen.size !== undefined) expect(seen.size).toBe(e.size);
          expect(await md5Of(whole)).toBe(e.md5);
          // A ranged read (a resume, a part) answers the same.
          const part = await view.open(remote, { ...io(), start: 1, length: 2 });
          checkRead(view, { ...e, remote }, part);
          expect(openedMeta(part)).toEqual(seen);
          part.destroy();
        }
        expect(confirmed).toEqual(['a.txt', 'sub/big.bin']);
      } finally {
        await view.close();
      }
    });

    it('a file republished at the same size: the old listing and a read after the new manifest differ, as ModelChangedError', async () => {
      const view = publishedView(t.source(), ro);
      try {
        await view.stat('model', io());
        const before = (await listed(view)).find((e) => e.path === 'a.txt')!;
        await writeFile(path.join(dir, 'a.txt'), 'uno'); // same size, other bytes
        await publish(await scanLocal(dir, 'model'), src, w, pubOpts());
        await view.stat('model', io()); // the view reads the new manifest, as the confirm step's second listing does
        const after = (await listed(view)).find((e) => e.path === 'a.txt')!;
        expect(versionDiff(before, after, view.features.mtimeResolutionMs)).toMatch(/^ETag published:/);
        const read = await view.open('model/a.txt', io());
        expect(() => checkRead(view, { ...before, remote: 'model/a.txt' }, read)).toThrow(ModelChangedError);
        // The unchanged file is still the object it was: reused, the same version.
        const big = await listed(view).then((es) => es.find((e) => e.path === 'sub/big.bin')!);
        const read2 = await view.open('model/sub/big.bin', { ...io(), start: 0, length: 1 });
        expect(() => checkRead(view, { ...big, remote: 'model/sub/big.bin' }, read2)).not.toThrow();
        read2.destroy();
      } finally {
        await view.close();
      }
    });
  });
}
