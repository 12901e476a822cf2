/**
 * Worker thread entry: builds chunk indexes of the byte streams the main thread
 * sends, so that the cuts and the per-chunk SHA-256 run on another core than
 * the md5 and the I/O (bench/chunk.test.ts: on one core the index costs more
 * per byte than the md5). Messages: start / data / end per job id; answers
 * ack (bytes consumed, for the sender's backpressure) and done (the index).
 */
import { parentPort } from 'node:worker_threads';
import { ChunkIndexBuilder } from './build.js';
import { Chunker, type ChunkParams } from './cdc.js';

export type ToWorker =
  | { readonly type: 'start'; readonly id: number; readonly params: ChunkParams }
  | { readonly type: 'data'; readonly id: number; readonly buf: ArrayBuffer }
  | { readonly type: 'end'; readonly id: number };

export type FromWorker =
  | { readonly type: 'ack'; readonly id: number; readonly bytes: number }
  | { readonly type: 'done'; readonly id: number; readonly lengths: Uint32Array; readonly hashes: Uint8Array }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

const jobs = new Map<number, { builder: ChunkIndexBuilder; size: number }>();
const port = parentPort!;

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'start') jobs.set(m.id, { builder: new ChunkIndexBuilder(new Chunker(m.params)), size: 0 });
    else if (m.type === 'data') {
      const job = jobs.get(m.id)!;
      job.builder.update(Buffer.from(m.buf));
      job.size += m.buf.byteLength;
      port.postMessage({ type: 'ack', id: m.id, bytes: m.buf.byteLength } satisfies FromWorker);
    } else {
      const job = jobs.get(m.id)!;
      jobs.delete(m.id);
      const ix = job.builder.finish(job.size, '');
      const hashes = new Uint8Array(ix.hashes);
      port.postMessage({ type: 'done', id: m.id, lengths: ix.lengths, hashes } satisfies FromWorker, [ix.lengths.buffer as ArrayBuffer, hashes.buffer]);
    }
  } catch (err) {
    jobs.delete(m.id);
    port.postMessage({ type: 'error', id: m.id, message: (err as Error).message } satisfies FromWorker);
  }
});
