/**
 * fetch with chunk-level deltas, in-process (a published layout in the
 * in-memory Source, read through the published view): a first pull keeps the
 * new file's chunk index; the next version is built from the served copy with
 * ranged reads of the changed chunks only; a source without ranges, or a
 * served record naming no index, pulls the file whole.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestBuffer } from '../../src/chunk/build.js';
import { encodeIndex } from '../../src/chunk/index-format.js';
import { IndexStore } from '../../src/chunk/index-store.js';
import { fetchModel, type FetchOptions } from '../../src/fetch.js';
import { silentLogger } from '../../src/log.js';
import type { FileRecord } from '../../src/model.js';
import { plan } from '../../src/plan.js';
import { PUBLISH_FORMAT, PUBLISH_FORMAT_VERSION, renderDonefile, renderManifest, type PublishedManifest } from '../../src/publish/layout.js';
import { publishedView } from '../../src/publish/view.js';
import type { Source } from '../../src/sources/types.js';
import { MiB, pseudoRandom } from '../helpers/bytes.js';
import { applyEdits } from '../helpers/edits.js';
import { MemorySource } from '../helpers/memory-source.js';

const ctx = () => ({ signal: AbortSignal.timeout(30_000), log: silentLogger() });
const v1 = pseudoRandom(4 * MiB, 3);
const { data: v2, changedBytes } = applyEdits(v1, [
  { kind: 'rewrite', at: MiB, length: 128 * 1024 },
  { kind: 'append', length: 64 * 1024 },
]);

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-deltafetch-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** What publish writes for a one-file model (the file, its index, the manifest, the donefile last). */
function publishTo(src: MemorySource, version: string, data: Buffer): void {
  const d = digestBuffer(data, { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 });
  const ix = encodeIndex(d.index!);
  src.put(`model/${version}/files/weights.bin`, data);
  src.put(`model/${version}/index/weights.bin.cdx`, ix);
  const m: PublishedManifest = {
    format: PUBLISH_FORMAT,
    formatVersion: PUBLISH_FORMAT_VERSION,
    version,
    publishedAt: '',
    kind: 'dir',
    previous: null,
    files: [
      {
        path: 'weights.bin',
        size: data.length,
        md5: d.md5,
        object: `${version}/files/weights.bin`,
        index: { object: `${version}/index/weights.bin.cdx`, chunks: d.index!.lengths.length, bytes: ix.length },
      },
    ],
  };
  src.put(`model/${version}/manifest.json`, renderManifest(m));
  src.put('donefile', renderDonefile(m));
}

function options(o: Partial<FetchOptions>): FetchOptions {
  return {
    stagingRoot: path.join(dir, 'staging'),
    concurrency: 2,
    partSize: 0,
    partSizeGiven: true,
    wire: true,
    bwlimit: 0,
    timeoutMs: 10_000,
    minBytesPerSec: 0,
    retries: 2,
    md5: true,
    servedDir: null,
    unpackedFilename: null,
    maxUnpackRatio: 256,
    timestampFile: null,
    ...o,
  };
}

const store = () => new IndexStore(path.join(dir, 'model.chunk-indexes'));

async function pull(src: Source, fingerprint: string, served: { dir: string; files: readonly FileRecord[] } | null) {
  const view = publishedView(src, { model: 'model', donefile: 'donefile', timeoutMs: 10_000, retries: 0, log: silentLogger() });
  const a = { version: fingerprint, fingerprint, remoteModel: 'model' };
  const p = await plan(
    view,
    a,
    null,
    { manifestName: null, verify: 'auto', donefile: 'donefile', incremental: false, timeoutMs: 10_000, retries: 0, archive: false },
    ctx(),
  );
  const delta = { store: store(), servedDir: served?.dir ?? null, servedFiles: new Map((served?.files ?? []).map((f) => [f.path, f])) };
  const staged = await fetchModel(view, p, options({ servedDir: served?.dir ?? null, delta }), ctx());
  // The served copy of this version, as a swap would leave it.
  const keep = path.join(dir, `served-${fingerprint}`);
  await cp(staged.dir, keep, { recursive: true });
  return { staged, served: { dir: keep, files: staged.files }, data: await readFile(path.join(keep, 'weights.bin')) };
}

describe('fetch with chunk-level deltas', () => {
  it('keeps the index of a file pulled whole, then builds the next version from the served copy', async () => {
    const src = new MemorySource();
    publishTo(src, '20260101T000000Z-aaaaaa', v1);
    const first = await pull(src, 'fp-1', null);
    const key = first.staged.files[0]!.chunkIndex!;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await store().get(key, { size: v1.length })).not.toBeNull();
    expect(first.staged.bytes!.reused).toBe(0);

    publishTo(src, '20260101T000001Z-bbbbbb', v2);
    src.opens.length = 0;
    const second = await pull(src, 'fp-2', first.served);
    expect(second.data.equals(v2)).toBe(true);
    const ranged = src.opens.filter((o) => o.path.endsWith('files/weights.bin'));
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged.every((o) => o.length !== undefined && o.length < v2.length / 2)).toBe(true);
    expect(second.staged.bytes!.fetched).toBeLessThan(changedBytes + 4 * 256 * 1024);
    expect(second.staged.bytes!.reused).toBeGreaterThan(v2.length - changedBytes - 4 * 256 * 1024);
    expect(second.staged.files[0]!.chunkIndex).not.toBe(key);
  });

  it('a source without ranges pulls the file whole (and still keeps its index)', async () => {
    const src = new MemorySource({ ranges: false });
    publishTo(src, '20260101T000000Z-aaaaaa', v1);
    const first = await pull(src, 'fp-1', null);
    publishTo(src, '20260101T000001Z-bbbbbb', v2);
    const second = await pull(src, 'fp-2', first.served);
    expect(second.data.equals(v2)).toBe(true);
    expect(second.staged.bytes!.reused).toBe(0);
    expect(second.staged.bytes!.fetched).toBeGreaterThanOrEqual(v2.length);
    expect(second.staged.files[0]!.chunkIndex).toBeDefined();
  });

  it('a served record that names no index pulls the file whole', async () => {
    const src = new MemorySource();
    publishTo(src, '20260101T000000Z-aaaaaa', v1);
    const first = await pull(src, 'fp-1', null);
    publishTo(src, '20260101T000001Z-bbbbbb', v2);
    const files = first.served.files.map(({ chunkIndex: _, ...f }) => f);
    const second = await pull(src, 'fp-2', { dir: first.served.dir, files });
    expect(second.data.equals(v2)).toBe(true);
    expect(second.staged.bytes!.reused).toBe(0);
  });
});
