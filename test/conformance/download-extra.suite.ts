/**
 * More of Source.download() than the shared download suite (download.suite.ts,
 * run by runSourceSuite) checks, for a source whose connections are pooled
 * and whose files each open a data connection (FTP): whole files of several
 * sizes with 0 bytes, a missing file and a one-version mismatch leaving the
 * connection usable, a drop resumed to a whole file, many downloads through a small pool and the reused
 * connections afterwards, an abort mid-file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelChangedError, MonitorError, NotFoundError, TransientError } from '../../src/errors.js';
import type { DownloadOptions, DownloadResult, DownloadTarget, OpenedMeta, Source } from '../../src/sources/types.js';
import { bytesWritten, type WireEngine } from '../../src/wire/engine.js';
import type { SourceHarness } from './source.suite.js';

export interface DownloadHarness extends SourceHarness {
  /** A source whose download() runs on `wire`, with `concurrency` connections at most. */
  wired(wire: WireEngine, concurrency?: number): Source;
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const signal = () => AbortSignal.timeout(60_000);

export function target(file: string, length: number, o: Partial<DownloadTarget> = {}): DownloadTarget {
  return { file, position: 0, length, part: false, fresh: false, md5: true, idleMs: 20_000, minBytesPerSec: 0, ...o };
}

/** src.download() that must take the read (not null: the wire path is asked for it). */
export async function download(src: Source, p: string, t: DownloadTarget, o: DownloadOptions): Promise<DownloadResult> {
  const r = await src.download!(p, t, o);
  if (r === null) throw new Error(`download(${p}) declined the read`);
  return r;
}

export function runDownloadExtras(name: string, makeHarness: () => Promise<DownloadHarness>, makeWire: () => WireEngine): void {
  describe(`download() extras: ${name}`, () => {
    let h: DownloadHarness;
    let wire: WireEngine;
    let src: Source;
    let local: string;
    beforeAll(async () => {
      h = await makeHarness();
      wire = makeWire();
      src = h.wired(wire);
      local = await mkdtemp(path.join(tmpdir(), 'mm-download-'));
    });
    afterAll(async () => {
      await src?.close();
      await wire?.close();
      await h?.close();
      if (local) await rm(local, { recursive: true, force: true });
    });

    it('offers download() on the wire path', () => {
      expect(typeof src.download).toBe('function');
    });

    it('whole files of several sizes, 0 bytes included, land exactly with their md5 and meta', async () => {
      for (const size of [0, 1, 65_543, 3 * 1024 * 1024 + 1]) {
        const data = randomBytes(size);
        await h.put(`dl/size-${size}.bin`, data);
        const file = path.join(local, `size-${size}.bin`);
        const metas: OpenedMeta[] = [];
        const r = await download(src, `dl/size-${size}.bin`, target(file, size), { signal: signal(), onMeta: (m) => metas.push(m) });
        expect(r).toEqual({ bytes: size, md5: md5(data) });
        expect(md5(await readFile(file))).toBe(md5(data));
        // ftp-srv answers SIZE of an empty file without a number: no meta then.
        for (const m of metas) expect(m.size).toBe(size);
        if (size > 0) expect(metas).toHaveLength(1);
      }
    });

    it('a connection dropped mid-file: a retryable error whose bytesWritten is a safe resume point', async () => {
      if (!h.dropNextDownload) return;
      const data = randomBytes(8 * 1024 * 1024);
      await h.put('dl/drop.bin', data);
      const file = path.join(local, 'drop.bin');
      h.dropNextDownload('dl/drop.bin', 3_000_000);
      const err = await download(src, 'dl/drop.bin', target(file, data.length), { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      const done = bytesWritten(err);
      expect(done).toBeLessThan(data.length);
      expect((await readFile(file)).subarray(0, done).equals(data.subarray(0, done))).toBe(true);
      const r = await download(src, 'dl/drop.bin', target(file, data.length - done, { position: done }), { signal: signal() });
      expect(r.md5).toBe(md5(data));
    });

    it('a missing file is a NotFoundError, nothing written, and the source goes on', async () => {
      const file = path.join(local, 'missing.bin');
      const err = await download(src, 'dl/absent.bin', target(file, 10), { signal: signal() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect(bytesWritten(err)).toBe(0);
      await expect(stat(file)).rejects.toThrow();
      await h.put('dl/after-missing.txt', 'still here');
      const r = await download(src, 'dl/after-missing.txt', target(path.join(local, 'after.txt'), 10), { signal: signal() });
      expect(r).toEqual({ bytes: 10, md5: md5('still here') });
    });

    it('a size other than the listed one fails in onMeta before a byte lands; the connection stays usable', async () => {
      await h.put('dl/changed.bin', randomBytes(5000));
      const file = path.join(local, 'changed.bin');
      const onMeta = (m: OpenedMeta) => {
        if (m.size !== 4000) throw new ModelChangedError(`changed: ${m.size}`);
      };
      const err = await download(src, 'dl/changed.bin', target(file, 4000), { signal: signal(), onMeta }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChangedError);
      await expect(stat(file)).rejects.toThrow();
      expect((await src.stat('dl/changed.bin', { signal: signal() }))?.size).toBe(5000);
    });

    it('many downloads at once through a small pool, then the reused connections list and download again', async () => {
      const own = h.wired(wire, 3);
      try {
        const files = await Promise.all(
          Array.from({ length: 24 }, async (_, i) => {
            const data = randomBytes(100_000 + i * 4099);
            await h.put(`many/f${i}.bin`, data);
            return { p: `many/f${i}.bin`, data };
          }),
        );
        const got = await Promise.all(
          files.map(async (f, i) => (await download(own, f.p, target(path.join(local, `many-${i}`), f.data.length), { signal: signal() })).md5),
        );
        expect(got).toEqual(files.map((f) => md5(f.data)));
        const listed: string[] = [];
        for await (const e of own.list('many', { signal: signal() })) listed.push(e.path);
        expect(listed).toHaveLength(24);
        for (const [i, f] of files.slice(0, 4).entries()) {
          const r = await download(own, f.p, target(path.join(local, `again-${i}`), f.data.length, { md5: false }), { signal: signal() });
          expect(r).toEqual({ bytes: f.data.length, md5: null });
          expect((await readFile(path.join(local, `again-${i}`))).equals(f.data)).toBe(true);
        }
      } finally {
        await own.close();
      }
    });

    it('an abort mid-file is an AbortedError-like MonitorError, not retryable, and the next download works', async () => {
      const data = randomBytes(16 * 1024 * 1024);
      await h.put('dl/abort.bin', data);
      const ac = new AbortController();
      const file = path.join(local, 'abort.bin');
      const err = await download(src, 'dl/abort.bin', target(file, data.length), { signal: ac.signal, onBytes: () => ac.abort() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(false);
      expect((await readFile(file)).subarray(0, bytesWritten(err)).equals(data.subarray(0, bytesWritten(err)))).toBe(true);
      const r = await download(src, 'dl/abort.bin', target(path.join(local, 'abort-2.bin'), data.length), { signal: signal() });
      expect(r.md5).toBe(md5(data));
    });
  });
}
