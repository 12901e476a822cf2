/**
 * The download() half of the source conformance suite (issue 18): a source
 * with a data path of its own (the wire engine) writes a file's bytes at the
 * right offsets, resumes from a position with the md5 of prefix + body, reads
 * a ranged part into a pre-sized file (or declines it: null), maps a missing file to the shared
 * error set, and after a drop says how many bytes are on disk (a resume point).
 * Run by runSourceSuite when the harness gives a wireSource.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import type { DownloadTarget, Source } from '../../src/sources/types.js';
import { bytesWritten, type WireEngine } from '../../src/wire/engine.js';
import { createWireEngine } from '../../src/wire/pool.js';
import { pseudoRandom } from '../helpers/bytes.js';
import type { SourceHarness } from './source.suite.js';

const signal = () => AbortSignal.timeout(60_000);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Registered inside runSourceSuite's describe: `harness()` is its harness once its beforeAll ran; skipped without wireSource. */
export function runDownloadSuite(harness: () => SourceHarness): void {
  describe('download() through the wire engine', () => {
    let h: SourceHarness;
    let wire: WireEngine | null = null;
    let src: Source | null = null;
    let dir: string;
    const data = pseudoRandom(3 * 1024 * 1024 + 17, 42);
    beforeAll(async () => {
      h = harness();
      dir = await mkdtemp(path.join(tmpdir(), 'mm-download-'));
      if (!h.wireSource) return;
      wire = createWireEngine()!;
      src = h.wireSource(wire);
      await h.put('dl/model.bin', data);
    });
    afterAll(async () => {
      await src?.close();
      await wire?.close();
      await rm(dir, { recursive: true, force: true });
    });
    const target = (file: string, t: Partial<DownloadTarget> = {}): DownloadTarget => ({
      file,
      position: 0,
      length: data.length,
      part: false,
      fresh: false,
      md5: true,
      idleMs: 15_000,
      minBytesPerSec: 0,
      ...t,
    });

    const on = (ctx: { skip: () => void }): Source => {
      if (!src) ctx.skip();
      return src!;
    };

    it('a whole file: its bytes, its md5, what the answer said about it', async (ctx) => {
      const src = on(ctx);
      const file = path.join(dir, 'whole');
      let size: number | undefined;
      let progress = 0;
      const r = await src.download!('dl/model.bin', target(file), { signal: signal(), onMeta: (m) => (size = m.size), onBytes: (n) => (progress += n) });
      expect(r).not.toBeNull();
      expect(r!.bytes).toBe(data.length);
      expect(r!.md5).toBe(md5(data));
      // what the answer said, when it says anything (a WebHDFS datanode read names no version, as open() does not)
      if (size !== undefined) expect(size).toBe(data.length);
      expect(progress).toBe(data.length);
      expect((await readFile(file)).equals(data)).toBe(true);
    });

    it('a resume from a position: the md5 covers the prefix on disk and the body', async (ctx) => {
      const src = on(ctx);
      const file = path.join(dir, 'resume');
      const at = 1024 * 1024 + 5;
      await writeFile(file, data.subarray(0, at));
      const r = await src.download!('dl/model.bin', target(file, { position: at, length: data.length - at }), { signal: signal() });
      expect(r!.md5).toBe(md5(data));
      expect((await readFile(file)).equals(data)).toBe(true);
    });

    it('a ranged part lands at its offset in a pre-sized file', async (ctx) => {
      const src = on(ctx);
      const file = path.join(dir, 'part');
      await writeFile(file, Buffer.alloc(data.length));
      const at = 2 * 1024 * 1024;
      const r = await src.download!('dl/model.bin', target(file, { position: at, length: 1000, part: true, md5: false }), { signal: signal() });
      const got = await readFile(file);
      // null: not a read for the wire path (FTP has no end offset), nothing written; transfer.ts reads it through open().
      if (r === null) return expect(got.every((b) => b === 0)).toBe(true);
      expect(r.bytes).toBe(1000);
      expect(got.subarray(at, at + 1000).equals(data.subarray(at, at + 1000))).toBe(true);
      expect(got.subarray(0, at).every((b) => b === 0)).toBe(true);
    });

    it('a missing file is a not-found MonitorError, and nothing is written', async (ctx) => {
      const src = on(ctx);
      const file = path.join(dir, 'missing');
      const err = await src.download!('dl/absent.bin', target(file), { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe('E_NOT_FOUND');
      expect((await readFile(file).catch(() => Buffer.alloc(0))).length).toBe(0);
    });

    it('a dropped connection: a retryable error whose bytesWritten is on disk', async (ctx) => {
      const src = on(ctx);
      if (!h.dropNextDownload) return ctx.skip();
      const file = path.join(dir, 'drop');
      h.dropNextDownload('dl/model.bin', 1_500_000);
      const err = await src.download!('dl/model.bin', target(file), { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(true);
      const w = bytesWritten(err);
      expect(w).toBeLessThanOrEqual(1_500_000);
      expect((await readFile(file)).equals(data.subarray(0, w))).toBe(true);
    });
  });
}
