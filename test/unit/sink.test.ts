/**
 * FileSink's count is a resume point: after a dropped stream it says exactly
 * the bytes on disk (whole batches written, never what was merely buffered).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { FileSink } from '../../src/sink.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-sink-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const K = 1024;

/** A stream of `data` cut by an error after `cut` bytes (64 KiB chunks), or whole. */
function source(data: Buffer, cut?: number): Readable {
  let at = 0;
  const end = cut ?? data.length;
  return new Readable({
    read() {
      if (at < end) this.push(data.subarray(at, (at = Math.min(end, at + 64 * K))));
      else if (cut !== undefined) this.destroy(new TransientError('connection dropped'));
      else this.push(null);
    },
  });
}

async function run(name: string, data: Buffer, cut?: number, position = 0): Promise<{ sink: FileSink; err: unknown }> {
  const file = path.join(dir, name);
  const sink = new FileSink({ file, create: position === 0, position, limit: data.length - position, hash: null, idleMs: 10_000, what: name });
  const err = await pipeline(source(data.subarray(position), cut), sink).then(
    () => null,
    (e: unknown) => e,
  );
  if (!sink.closed) await new Promise((r) => sink.once('close', r));
  return { sink, err };
}

describe('FileSink bytes after a drop', () => {
  const cases: [string, number, number][] = [
    // [what, file size, cut after]: the count is whole 512 KiB batches on disk
    ['a drop inside the second batch', 2048 * K, 700 * K],
    ['a drop on a batch boundary', 2048 * K, 1024 * K],
    ['a drop before the first batch is full: nothing on disk', 2048 * K, 100 * K],
  ];
  it.each(cases)('%s', async (what, size, cut) => {
    const data = randomBytes(size);
    const { sink, err } = await run(what.replace(/\W+/g, '-'), data, cut);
    expect(err).toBeInstanceOf(TransientError);
    expect(sink.bytes).toBeLessThanOrEqual(cut);
    expect(sink.bytes % (512 * K)).toBe(0);
    const onDisk = (await stat(path.join(dir, what.replace(/\W+/g, '-')))).size;
    expect(onDisk).toBe(sink.bytes);
  });

  it('resumed from that count, the file is whole', async () => {
    const data = randomBytes(2048 * K);
    const first = await run('resumed', data, 700 * K);
    const second = await run('resumed', data, undefined, first.sink.bytes);
    expect(second.err).toBeNull();
    expect(first.sink.bytes + second.sink.bytes).toBe(data.length);
    expect((await readFile(path.join(dir, 'resumed'))).equals(data)).toBe(true);
  });

  it('an empty file: nothing to write, and it exists', async () => {
    const { sink, err } = await run('empty', Buffer.alloc(0));
    expect(err).toBeNull();
    expect(sink.bytes).toBe(0);
    expect((await stat(path.join(dir, 'empty'))).size).toBe(0);
  });

  it('more bytes than asked for is refused', async () => {
    const file = path.join(dir, 'over');
    const sink = new FileSink({ file, create: true, position: 0, limit: 10, hash: null, idleMs: 10_000, what: 'over' });
    await expect(pipeline(Readable.from([Buffer.alloc(11)]), sink)).rejects.toThrow(/more than the 10 bytes/);
  });
});
