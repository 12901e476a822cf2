/**
 * A decompression bomb: a ~1 MB tar.gz that unpacks to 1 GiB of zeros. It is
 * refused once it passes --max-unpack-ratio (256 × its size by default) with
 * a clear error and nothing left in staging; with the limit off, it unpacks
 * with flat memory. Before: the disk filled and the monitor peaked at 1.16 GB.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from '../helpers/cli.js';
import { touchDonefile } from '../helpers/producer.js';
import { rawTar } from '../helpers/tar.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-bomb-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** `m/big`: `bytes` zero bytes, as a tar.gz streamed to `file` (the archive is never whole in memory). */
async function bomb(file: string, bytes: number): Promise<void> {
  const head = rawTar([
    { name: 'm/', type: '5' },
    { name: 'm/big', data: Buffer.alloc(0) },
  ]).subarray(0, 1024);
  head.write(bytes.toString(8).padStart(11, '0') + '\0', 512 + 124, 12, 'utf8'); // the file's size
  let sum = 0;
  head.fill(' ', 512 + 148, 512 + 156);
  for (const b of head.subarray(512, 1024)) sum += b;
  head.write(sum.toString(8).padStart(6, '0') + '\0 ', 512 + 148, 8, 'utf8');
  const zero = Buffer.alloc(1 << 20);
  async function* body() {
    yield head;
    for (let left = bytes; left > 0; left -= zero.length) yield zero.subarray(0, Math.min(zero.length, left));
    yield Buffer.alloc(1024 + ((512 - (bytes % 512)) % 512));
  }
  await pipeline(Readable.from(body()), createGzip(), createWriteStream(file));
}

/** Runs the CLI to its end, polling its peak RSS (VmHWM) from /proc. */
async function runMeasured(args: string[]): Promise<{ code: number | null; peakMiB: number; log: string }> {
  const r = start(args);
  let peak = 0;
  const poll = setInterval(() => {
    readFile(`/proc/${r.child.pid}/status`, 'utf8')
      .then((s) => (peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))))
      .catch(() => {});
  }, 25);
  const code = await r.exited;
  clearInterval(poll);
  return { code, peakMiB: peak / 1024, log: JSON.stringify(r.lines) };
}

describe('a decompression bomb', () => {
  const remote = () => path.join(dir, 'remote');
  beforeAll(async () => {
    await mkdir(remote(), { recursive: true });
    await bomb(path.join(remote(), 'model.tar.gz'), 1024 * 1024 * 1024);
    await touchDonefile(remote());
  }, 120_000);
  const args = (local: string) => [
    'sync',
    '--remote',
    `file://${remote()}`,
    '--remote_model_name',
    'model.tar.gz',
    '--remote_donefile_name',
    'donefile',
    '--unpacked_filename',
    'm',
    '--local_path',
    path.join(dir, local),
  ];

  it('is refused past --max-unpack-ratio: exit 1 naming the limit, nothing served, staging empty', async () => {
    expect((await stat(path.join(remote(), 'model.tar.gz'))).size).toBeLessThan(2 * 1024 * 1024);
    const r = await runMeasured(args('l1'));
    expect(r.code, r.log).toBe(1);
    expect(r.log).toMatch(/unpacks to more than \d+ bytes \(--max-unpack-ratio 256 times its size\)/);
    expect(await readdir(path.join(dir, 'l1', '_serving_monitor_tmp', 'm.staging')).catch(() => [])).toEqual([]);
    expect(await readdir(path.join(dir, 'l1')).then((n) => n.includes('m'))).toBe(false);
  }, 120_000);

  it('with --max-unpack-ratio 0 it unpacks, and memory stays flat', async () => {
    const r = await runMeasured([...args('l2'), '--max-unpack-ratio', '0']);
    expect(r.code, r.log).toBe(0);
    expect((await stat(path.join(dir, 'l2', 'm', 'big'))).size).toBe(1024 * 1024 * 1024);
    expect(r.peakMiB, 'peak RSS (MiB) while unpacking 1 GiB from 1 MB').toBeLessThan(300);
    await rm(path.join(dir, 'l2'), { recursive: true, force: true });
  }, 120_000);
});
