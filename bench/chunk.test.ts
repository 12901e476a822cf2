/**
 * `npm run bench:chunk`: how fast one core turns a file's bytes into what
 * publish needs (md5 of the file; for a big file, its chunk cuts and a SHA-256
 * per chunk), so that chunking is picked by measurement and never becomes the
 * bottleneck of publish. In memory (no disk, no network), single-threaded,
 * 1 MiB reads as publish gets them from a file (and the pass as publish runs
 * it, on the hash pool's worker threads: compiled, so the script builds dist/
 * first); best of MM_BENCH_CHUNK_ROUNDS
 * (default 5) over MM_BENCH_CHUNK_MIB (default 256) MiB of random bytes.
 *
 * Candidates for the cuts: ours (src/chunk/cdc.ts, TypeScript) and the
 * WebAssembly build of fastcdc-rs, @dstanesc/wasm-chunking-fastcdc-node, the
 * only FastCDC package on npm (one release, one maintainer; stateless, so it
 * is fed 8 MiB windows and the tail after its last cut is carried over). That
 * package is not a dependency: `npm install --no-save
 * @dstanesc/wasm-chunking-fastcdc-node` before the run to include it (or
 * MM_BENCH_FASTCDC_WASM=<its dir>); without it the row says so.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { FileHasher } from '../src/chunk/build.js';
import { Chunker, DEFAULT_CHUNKING } from '../src/chunk/cdc.js';
import { encodeIndex } from '../src/chunk/index-format.js';
import { pseudoRandom } from '../test/helpers/bytes.js';
import { ROOT } from './matrix.js';
import { writeSection } from './report.js';

const MiB = 1024 * 1024;
const envNum = (k: string, d: number) => (Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
const SIZE = envNum('MM_BENCH_CHUNK_MIB', 256) * MiB;
const ROUNDS = envNum('MM_BENCH_CHUNK_ROUNDS', 5);
const READ = 1 * MiB;

type ComputeChunks = (src: Uint8Array, min: number, avg: number, max: number) => Uint32Array;

interface Row {
  readonly what: string;
  readonly mbps: number | null;
  readonly chunks?: number;
  readonly note?: string;
}

/** Best wall time of `rounds` runs of `f` over the data, as MB/s (10^6 bytes). */
function best(f: () => number | void, rounds = ROUNDS): { mbps: number; result: number | void } {
  let bestMs = Infinity;
  let result: number | void = undefined;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    result = f();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return { mbps: SIZE / 1e6 / (bestMs / 1000), result };
}

function oursCuts(data: Buffer): number {
  const c = new Chunker();
  let n = 0;
  for (let off = 0; off < data.length; off += READ) {
    const buf = data.subarray(off, off + READ);
    for (let at = c.next(buf, 0); at >= 0; at = c.next(buf, at)) n++;
  }
  return n + (c.pending > 0 ? 1 : 0);
}

/** fastcdc-rs in WebAssembly over 8 MiB windows; the bytes after the last cut start the next window. */
function wasmCuts(compute: ComputeChunks, data: Buffer): number {
  const { min, avg, max } = DEFAULT_CHUNKING;
  const win = 8 * MiB;
  let n = 0;
  for (let start = 0; start < data.length;) {
    const end = Math.min(data.length, start + win);
    const offsets = compute(data.subarray(start, end), min, avg, max);
    const last = end === data.length ? offsets.length : offsets.length - 1; // the final piece of a window is not a real cut
    n += last;
    start = end === data.length ? end : start + (offsets[last - 1] ?? end - start);
  }
  return n;
}

function loadWasm(): ComputeChunks | string {
  const req = createRequire(path.join(ROOT, 'package.json'));
  const where = process.env.MM_BENCH_FASTCDC_WASM ?? '@dstanesc/wasm-chunking-fastcdc-node';
  try {
    return (req(where) as { compute_chunks_nocheck: ComputeChunks }).compute_chunks_nocheck;
  } catch {
    return 'not installed (npm install --no-save @dstanesc/wasm-chunking-fastcdc-node)';
  }
}

function perChunkSha256(data: Buffer): void {
  const step = DEFAULT_CHUNKING.avg;
  for (let off = 0; off < data.length; off += step)
    createHash('sha256')
      .update(data.subarray(off, off + step))
      .digest();
}

function hasher(data: Buffer, chunking: boolean): number {
  const h = new FileHasher(chunking ? DEFAULT_CHUNKING : null);
  for (let off = 0; off < data.length; off += READ) h.update(data.subarray(off, off + READ));
  const d = h.digest();
  return d.index ? encodeIndex(d.index).length : 0;
}

/** The publish pass as publish runs it: md5 and index on the hash pool's worker threads (compiled: dist/). */
async function pooled(data: Buffer): Promise<number> {
  const dist = path.join(ROOT, 'dist', 'chunk', 'hash-pool.js');
  const { HashPool } = (await import(dist)) as typeof import('../src/chunk/hash-pool.js');
  const pool = HashPool.create()!;
  try {
    let bestMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const job = pool.file(DEFAULT_CHUNKING);
      for (let off = 0; off < data.length; off += READ) await job.push(data.subarray(off, off + READ));
      await job.end();
      bestMs = Math.min(bestMs, performance.now() - t0);
    }
    return SIZE / 1e6 / (bestMs / 1000);
  } finally {
    await pool.close();
  }
}

function render(rows: readonly Row[], indexBytes: number): string {
  const cpu = cpus()[0]?.model ?? '?';
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu} (node ${process.version}); ${SIZE / MiB} MiB of random bytes in memory, ` +
      `1 MiB reads; one thread (one core) but for the last row (two worker threads); best of ${ROUNDS}; chunks min/avg/max ${DEFAULT_CHUNKING.min / 1024}/${DEFAULT_CHUNKING.avg / 1024}/${DEFAULT_CHUNKING.max / 1024} KiB.`,
    '',
    '| what | MB/s | chunks |',
    '|---|--:|--:|',
    ...rows.map((r) => `| ${r.what} | ${r.mbps === null ? r.note : r.mbps.toFixed(0)} | ${r.chunks ?? ''} |`),
    '',
    `Index of the ${SIZE / MiB} MiB: ${indexBytes} bytes (${((indexBytes / SIZE) * 100).toFixed(3)} % of the file).`,
  ].join('\n');
}

it('bench: chunking throughput per core', async () => {
  const data = pseudoRandom(SIZE, 42);
  const rows: Row[] = [];
  const ours = best(() => oursCuts(data));
  rows.push({ what: 'cuts: ours (TypeScript gear, src/chunk/cdc.ts)', mbps: ours.mbps, chunks: ours.result as number });
  const compute = loadWasm();
  if (typeof compute === 'string') rows.push({ what: 'cuts: fastcdc-rs in WebAssembly', mbps: null, note: compute });
  else {
    const w = best(() => wasmCuts(compute, data));
    rows.push({ what: 'cuts: fastcdc-rs in WebAssembly (@dstanesc/wasm-chunking-fastcdc-node 0.1.1)', mbps: w.mbps, chunks: w.result as number });
  }
  rows.push({ what: 'md5 of the file (node:crypto)', mbps: best(() => void createHash('md5').update(data).digest()).mbps });
  rows.push({ what: 'SHA-256 per 64 KiB chunk (node:crypto)', mbps: best(() => perChunkSha256(data)).mbps });
  rows.push({ what: 'publish pass, small file: md5 only (FileHasher)', mbps: best(() => void hasher(data, false)).mbps });
  const full = best(() => hasher(data, true));
  rows.push({ what: 'publish pass, big file: md5 + cuts + SHA-256 per chunk (FileHasher)', mbps: full.mbps });
  rows.push({ what: 'publish pass, big file, as publish runs it: md5 on one worker thread, the index on another (HashPool)', mbps: await pooled(data) });
  const text = render(rows, full.result as number);
  console.log(`\n${text}\n`);
  if (process.env.MM_BENCH_NO_WRITE !== '1') await writeSection('chunk', text);
  expect(ours.mbps).toBeGreaterThan(0);
});
