/**
 * The one behaviour suite every Source runs against its real server (rclone's
 * fstests). A test file starts a server, builds a SourceHarness over it and
 * calls runSourceSuite(). Capabilities the backend lacks are read from
 * `features` or from optional harness hooks, never from the backend's name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import type { RemoteEntry, Source } from '../../src/sources/types.js';
import type { WireEngine } from '../../src/wire/engine.js';
import { runDownloadSuite } from './download.suite.js';

export interface SourceHarness {
  /** Writes a file under the remote root (creating parent dirs). */
  put(path: string, data: Buffer | string): Promise<void>;
  /** Writes a large file of `size` deterministic bytes without holding it in memory; returns its md5. */
  putLarge?(path: string, size: number): Promise<string>;
  remove(path: string): Promise<void>;
  /** A Source whose root is the remote root. */
  source(): Source;
  /** A Source pointed at a port where nothing listens (absent for sources with no network). */
  unreachable?(): Source;
  /**
   * Fault injection: the next download of `path` is cut after `afterBytes` bytes
   * (connection destroyed). Absent when the server cannot do it.
   */
  dropNextDownload?(path: string, afterBytes: number): void;
  /** A Source like source() with this wire engine in its deps: download() is tested too (download.suite.ts). */
  wireSource?(wire: WireEngine): Source;
  close(): Promise<void>;
}

export interface SuiteOptions {
  /** Size of the "large file" test (default 64 MiB; 1 GiB in benchmarks). */
  readonly largeBytes?: number | undefined;
  /** Skip the non-ASCII names test (a server that cannot store them). */
  readonly skipNonAscii?: boolean;
}

const signal = () => AbortSignal.timeout(60_000);

async function collect(src: Source, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of src.list(dir, { signal: signal() })) out.push(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Reads a stream to its md5 and length without buffering it. */
export async function digest(src: Source, path: string, start = 0, length?: number): Promise<{ md5: string; bytes: number }> {
  const h = createHash('md5');
  let bytes = 0;
  const stream = await src.open(path, { signal: signal(), start, ...(length !== undefined ? { length } : {}) });
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return { md5: h.digest('hex'), bytes };
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

export function runSourceSuite(name: string, makeHarness: () => Promise<SourceHarness>, o: SuiteOptions = {}): void {
  describe(`source conformance: ${name}`, () => {
    let h: SourceHarness;
    let src: Source;
    beforeAll(async () => {
      h = await makeHarness();
      src = h.source();
    });
    afterAll(async () => {
      await src?.close();
      await h?.close();
    });

    it('stat: an absent donefile is null, not an error', async () => {
      expect(await src.stat('nope/donefile', { signal: signal() })).toBeNull();
      expect(await src.stat('donefile-absent', { signal: signal() })).toBeNull();
    });

    it('stat: a present donefile has its size and a change is visible', async () => {
      await h.put('suite/donefile', 'one');
      const a = await src.stat('suite/donefile', { signal: signal() });
      expect(a).not.toBeNull();
      expect(a!.size).toBe(3);
      expect(a!.mtimeMs !== undefined || a!.etag !== undefined).toBe(true);
      await h.put('suite/donefile', 'second version');
      const b = await src.stat('suite/donefile', { signal: signal() });
      expect(b!.size).toBe(14);
      const fp = (e: RemoteEntry) => `${e.size}/${e.mtimeMs}/${e.etag}/${e.md5}`;
      expect(fp(b!)).not.toBe(fp(a!));
    });

    it('list: nested directories, empty files, sizes; paths relative and safe', async () => {
      await h.put('suite/m1/a.bin', 'aaaa');
      await h.put('suite/m1/empty', '');
      await h.put('suite/m1/sub/deeper/c.txt', 'cc');
      await h.put('suite/m1/sub/b.txt', 'b');
      const got = await collect(src, 'suite/m1');
      expect(got.map((e) => [e.path, e.size])).toEqual([
        ['a.bin', 4],
        ['empty', 0],
        ['sub/b.txt', 1],
        ['sub/deeper/c.txt', 2],
      ]);
      for (const e of got) {
        expect(e.path.startsWith('/')).toBe(false);
        expect(e.path.split('/')).not.toContain('..');
      }
    });

    it('list: an absent directory throws a not-found MonitorError', async () => {
      const err = await collect(src, 'suite/absent-dir').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe('E_NOT_FOUND');
    });

    it('names with spaces and non-ASCII characters list and download', async () => {
      const names = o.skipNonAscii ? ['with space.txt'] : ['with space.txt', 'modèle-模型.bin'];
      for (const n of names) await h.put(`suite/names/${n}`, `content of ${n}`);
      const got = await collect(src, 'suite/names');
      expect(got.map((e) => e.path).sort()).toEqual([...names].sort());
      for (const n of names) {
        const d = await digest(src, `suite/names/${n}`);
        expect(d.md5).toBe(md5(`content of ${n}`));
      }
    });

    it('open: bytes arrive exactly; empty file is empty', async () => {
      const data = randomBytes(300_000);
      await h.put('suite/bytes.bin', data);
      await h.put('suite/zero', '');
      expect(await digest(src, 'suite/bytes.bin')).toEqual({ md5: md5(data), bytes: data.length });
      expect(await digest(src, 'suite/zero')).toEqual({ md5: md5(''), bytes: 0 });
    });

    it('open with start resumes mid-file where features.ranges', async () => {
      if (!src.features.ranges) return;
      const data = randomBytes(200_000);
      await h.put('suite/ranged.bin', data);
      expect(await digest(src, 'suite/ranged.bin', 123_457)).toEqual({
        md5: md5(data.subarray(123_457)),
        bytes: data.length - 123_457,
      });
    });

    it('open with start and length reads exactly that range, and the source serves the next request', async () => {
      if (!src.features.ranges) return;
      const data = randomBytes(300_000);
      await h.put('suite/parts.bin', data);
      const want = (start: number, length: number) => ({ md5: md5(data.subarray(start, start + length)), bytes: length });
      expect(await digest(src, 'suite/parts.bin', 0, 100_000)).toEqual(want(0, 100_000));
      expect(await digest(src, 'suite/parts.bin', 100_000, 1)).toEqual(want(100_000, 1));
      expect(await digest(src, 'suite/parts.bin', 123_457, 76_543)).toEqual(want(123_457, 76_543));
      // a range that reaches the end of the file
      expect(await digest(src, 'suite/parts.bin', 250_000, 50_000)).toEqual(want(250_000, 50_000));
      // ranges cut short do not spoil the source (FTP drops the connection behind a cut range)
      expect(await digest(src, 'suite/parts.bin')).toEqual(want(0, data.length));
    });

    it('ranges read in parallel put the file together', async () => {
      if (!src.features.ranges) return;
      const data = randomBytes(1_000_000);
      await h.put('suite/parallel.bin', data);
      const part = 250_000;
      const got = await Promise.all([0, 1, 2, 3].map((i) => digest(src, 'suite/parallel.bin', i * part, part)));
      expect(got).toEqual([0, 1, 2, 3].map((i) => ({ md5: md5(data.subarray(i * part, (i + 1) * part)), bytes: part })));
    });

    it('open: an absent file is a not-found MonitorError', async () => {
      const err = await digest(src, 'suite/vanished.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe('E_NOT_FOUND');
    });

    it('a file that vanishes between list and download fails clearly', async () => {
      await h.put('suite/m2/gone.bin', 'soon gone');
      const listed = await collect(src, 'suite/m2');
      expect(listed.map((e) => e.path)).toEqual(['gone.bin']);
      await h.remove('suite/m2/gone.bin');
      const err = await digest(src, 'suite/m2/gone.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe('E_NOT_FOUND');
    });

    it('a connection dropped mid-file is a retryable MonitorError, never a silent short read', async () => {
      if (!h.dropNextDownload) return;
      const data = randomBytes(2_000_000);
      await h.put('suite/drop.bin', data);
      h.dropNextDownload('suite/drop.bin', 500_000);
      const err = await digest(src, 'suite/drop.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).retryable).toBe(true);
      // and the next attempt gets every byte
      expect(await digest(src, 'suite/drop.bin')).toEqual({ md5: md5(data), bytes: data.length });
    });

    it('a large file streams with flat memory', async () => {
      if (!h.putLarge) return;
      const size = o.largeBytes ?? 64 * 1024 * 1024;
      const want = await h.putLarge('suite/large.bin', size);
      // Warm up: the first transfer over a socket in a fresh process grows RSS by a fixed amount
      // (TLS/HTTP machinery, buffers) whatever the file size; measure growth after that.
      await h.put('suite/warm.bin', randomBytes(1024 * 1024));
      await digest(src, 'suite/warm.bin');
      const before = process.memoryUsage().rss;
      let peak = before;
      const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      try {
        expect(await digest(src, 'suite/large.bin')).toEqual({ md5: want, bytes: size });
      } finally {
        clearInterval(t);
      }
      // the whole file would be `size` bytes; streaming keeps growth far below it
      expect(peak - before).toBeLessThan(Math.max(size / 2, 96 * 1024 * 1024));
    });

    it('server unreachable: a retryable MonitorError, not a hang', async () => {
      if (!h.unreachable) return;
      const bad = h.unreachable();
      try {
        const err = await bad.stat('donefile', { signal: signal() }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MonitorError);
        expect((err as MonitorError).retryable).toBe(true);
      } finally {
        await bad.close();
      }
    });

    runDownloadSuite(() => h);
  });
}
