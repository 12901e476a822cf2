/**
 * Worker thread entry: hashes byte streams the main thread sends, so that the
 * md5s and the chunk indexes run on the other cores while the main thread
 * moves the bytes (bench/chunk.test.ts: md5 alone is ~600 MB/s per core, the
 * index more per byte than that). Messages per job id: start (md5 or index) /
 * data / end; answers: ack (bytes consumed: the sender's backpressure), done.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { ChunkIndexBuilder } from './build.js';
import { Chunker, type ChunkParams } from './cdc.js';

export type ToWorker =
  | { readonly type: 'start'; readonly id: number; readonly kind: 'md5' }
  | { readonly type: 'start'; readonly id: number; readonly kind: 'index'; readonly params: ChunkParams }
  | { readonly type: 'data'; readonly id: number; readonly buf: ArrayBuffer; readonly length: number }
  | { readonly type: 'end'; readonly id: number };

export type Done = { readonly md5: string } | { readonly lengths: Uint32Array; readonly hashes: Uint8Array };

export type FromWorker =
  /** The buffer goes back with the ack, to be filled again: no garbage per buffer on either side. */
  | { readonly type: 'ack'; readonly id: number; readonly bytes: number; readonly buf: ArrayBuffer }
  | { readonly type: 'done'; readonly id: number; readonly result: Done }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

type Job = { readonly md5: Hash } | { readonly index: ChunkIndexBuilder; size: number };

const jobs = new Map<number, Job>();
const port = parentPort!;

function finish(job: Job): { result: Done; transfer: ArrayBuffer[] } {
  if ('md5' in job) return { result: { md5: job.md5.digest('hex') }, transfer: [] };
  const ix = job.index.finish(job.size, '');
  const hashes = new Uint8Array(ix.hashes); // a copy: its own ArrayBuffer, transferred
  return { result: { lengths: ix.lengths, hashes }, transfer: [ix.lengths.buffer as ArrayBuffer, hashes.buffer] };
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'start') jobs.set(m.id, m.kind === 'md5' ? { md5: createHash('md5') } : { index: new ChunkIndexBuilder(new Chunker(m.params)), size: 0 });
    else if (m.type === 'data') {
      const job = jobs.get(m.id)!;
      const buf = Buffer.from(m.buf, 0, m.length);
      if ('md5' in job) job.md5.update(buf);
      else {
        job.index.update(buf);
        job.size += buf.length;
      }
      port.postMessage({ type: 'ack', id: m.id, bytes: buf.length, buf: m.buf } satisfies FromWorker, [m.buf]);
    } else {
      const job = jobs.get(m.id)!;
      jobs.delete(m.id);
      const { result, transfer } = finish(job);
      port.postMessage({ type: 'done', id: m.id, result } satisfies FromWorker, transfer);
    }
  } catch (err) {
    jobs.delete(m.id);
    port.postMessage({ type: 'error', id: m.id, message: (err as Error).message } satisfies FromWorker);
  }
});
