/**
 * publish() in process against file:// (the other stores run the same code
 * through the writer suite and the e2e tests): what is uploaded, reused,
 * indexed and collected; and the monitor's view of the result.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHUNKING } from '../../src/chunk/cdc.js';
import { decodeIndex, encodeIndex } from '../../src/chunk/index-format.js';
import { TransientError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { underModel } from '../../src/publish/layout.js';
import { scanLocal } from '../../src/publish/local.js';
import { publish, type PublishOptions } from '../../src/publish/publish.js';
import { readIndex, readPublished } from '../../src/publish/published.js';
import type { Writer } from '../../src/publish/types.js';
import { publishedView } from '../../src/publish/view.js';
import type { Source } from '../../src/sources/types.js';
import { MiB, pseudoRandom } from '../helpers/bytes.js';
import { md5, writeTree } from '../helpers/producer.js';
import { startTarget, type Target } from '../helpers/targets.js';

let dir: string;
let t: Target;
let src: Source;
let w: Writer;
const opts = (o: Partial<PublishOptions> = {}): PublishOptions => ({
  model: 'model',
  donefile: 'donefile',
  keepVersions: 2,
  chunking: { params: DEFAULT_CHUNKING, threshold: 1 * MiB },
  concurrency: 3,
  timeoutMs: 10_000,
  retries: 1,
  signal: AbortSignal.timeout(60_000),
  log: silentLogger(),
  ...o,
});
const ro = () => ({ model: 'model', donefile: 'donefile', timeoutMs: 10_000, retries: 1, signal: AbortSignal.timeout(30_000), log: silentLogger() });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-publish-'));
  t = await startTarget('file');
  src = t.source();
  w = t.writer();
});
afterAll(async () => {
  await Promise.all([src.close(), w.close()]);
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

async function files(list: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of list) out.push(e.path);
  return out.sort();
}

describe('publish()', () => {
  const local = () => path.join(dir, 'm');
  const big = pseudoRandom(3 * MiB, 1);

  it('uploads every file, an index for those above the threshold, then the donefile', async () => {
    await writeTree(local(), { 'a.txt': 'one', 'sub/b.txt': 'two', 'big.bin': big });
    const r = await publish(await scanLocal(local(), 'model'), src, w, opts());
    expect(r).toMatchObject({ files: 3, uploadedFiles: 3, reusedFiles: 0 });
    const pub = (await readPublished(src, ro()))!;
    expect(pub.header?.version).toBe(r.version);
    const f = pub.manifest!.files.find((x) => x.path === 'big.bin')!;
    const ixBytes = await readFile(path.join(t.disk!, 'model', f.index!.object));
    const ix = decodeIndex(ixBytes, 'big', { size: big.length, md5: md5(big) });
    expect(ix.lengths.length).toBe(f.index!.chunks);
    expect(pub.manifest!.files.find((x) => x.path === 'a.txt')!.index).toBeUndefined();
    expect(encodeIndex((await readIndex(src, f, ro()))!).equals(ixBytes)).toBe(true);
    expect(
      await readIndex(
        src,
        pub.manifest!.files.find((x) => x.path === 'a.txt')!,
        ro(),
      ),
    ).toBeNull();
    await expect(readIndex(src, { ...f, md5: '0'.repeat(32) }, ro())).rejects.toThrow(/the manifest says 0{32}/);
  });

  it('reuses unchanged files (same size and md5) and uploads only the changed one', async () => {
    await writeFile(path.join(local(), 'a.txt'), 'uno'); // same size, other md5: hashed, then uploaded
    const r = await publish(await scanLocal(local(), 'model'), src, w, opts());
    expect(r).toMatchObject({ uploadedFiles: 1, uploadedBytes: 3, reusedFiles: 2, reusedBytes: big.length + 3 });
    const pub = (await readPublished(src, ro()))!;
    expect(pub.manifest!.files.find((x) => x.path === 'big.bin')!.object.startsWith(pub.manifest!.version)).toBe(false);
  });

  it('keeps --keep-versions versions and collects the rest, but not the objects still named', async () => {
    await writeFile(path.join(local(), 'a.txt'), 'tres');
    const r = await publish(await scanLocal(local(), 'model'), src, w, opts());
    expect(r.collected).toBeGreaterThan(0);
    const left = await files(src.list('model', { signal: AbortSignal.timeout(10_000) }));
    const versions = new Set(left.map((p) => p.split('/')[0]));
    expect(versions.size).toBe(3); // the first (big.bin and its index still named), and the 2 retained
    expect(left.filter((p) => p.endsWith('manifest.json'))).toHaveLength(2);
  });

  it('the monitor’s view shows the model at its logical paths and reads each file from its object', async () => {
    const view = publishedView(src, ro());
    const st = await view.stat('model', { signal: AbortSignal.timeout(10_000) });
    expect(st?.isDirectory).toBe(true);
    expect(await files(view.list('model', { signal: AbortSignal.timeout(10_000) }))).toEqual(['a.txt', 'big.bin', 'sub/b.txt']);
    const chunks: Buffer[] = [];
    for await (const c of await view.open('model/big.bin', { signal: AbortSignal.timeout(10_000), start: 10, length: 100 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(big.subarray(10, 110))).toBe(true);
    expect(view.localPath?.('model/a.txt')).toMatch(/\/files\/a\.txt$/);
  });

  it('a single file is published as the model name itself', async () => {
    const tar = path.join(dir, 'model.tar');
    await writeFile(tar, 'not really a tar');
    const o = opts({ model: 'model.tar', donefile: 'tar.done' });
    await publish(await scanLocal(tar, 'model.tar'), src, w, o);
    const view = publishedView(src, { ...ro(), model: 'model.tar', donefile: 'tar.done' });
    const st = await view.stat('model.tar', { signal: AbortSignal.timeout(10_000) });
    expect(st).toMatchObject({ isDirectory: false, size: 16, md5: md5('not really a tar') });
    const pub = (await readPublished(src, { ...ro(), model: 'model.tar', donefile: 'tar.done' }))!;
    expect(pub.text.split('\n')[1]).toBe(`${md5('not really a tar')}  model.tar`);
    expect(underModel('model.tar', pub.manifest!.files[0]!.object)).toMatch(/^model\.tar\/\d{8}T\d{6}Z-[0-9a-f]{6}\/files\/model\.tar$/);
  });

  it('a local file that changes while it is published fails the publish; the previous version stays', async () => {
    const before = (await readPublished(src, ro()))!.text;
    const scanned = await scanLocal(local(), 'model');
    await writeFile(path.join(local(), 'sub', 'b.txt'), 'written after the scan');
    await expect(publish(scanned, src, w, opts())).rejects.toThrow(/changed while it was read/);
    expect((await readPublished(src, ro()))!.text).toBe(before);
  });

  it('the view fails a call whose manifest read failed (the retry reads again), never showing the raw version dirs', async () => {
    let failures = 1;
    const flaky: Source = {
      ...src,
      kind: src.kind,
      displayUrl: src.displayUrl,
      features: src.features,
      stat: (p, io) => src.stat(p, io),
      list: (d, io) => src.list(d, io),
      open: async (p, o) => {
        if (p === 'donefile' && failures-- > 0) throw new TransientError('dropped');
        return src.open(p, o);
      },
      close: async () => {},
    };
    const view = publishedView(flaky, { ...ro(), retries: 0 });
    await expect(files(view.list('model', { signal: AbortSignal.timeout(10_000) }))).rejects.toThrow(TransientError);
    expect(await files(view.list('model', { signal: AbortSignal.timeout(10_000) }))).toEqual(['a.txt', 'big.bin', 'sub/b.txt']);
  });

  it('a remote without a published donefile passes through the view unchanged', async () => {
    const view = publishedView(src, { ...ro(), model: 'plain', donefile: 'plain.done' });
    await writeTree(path.join(t.disk!, 'plain'), { 'x.bin': 'x' });
    expect(await files(view.list('plain', { signal: AbortSignal.timeout(10_000) }))).toEqual(['x.bin']);
  });
});
