/**
 * The main thread's side of index-worker.ts: one worker thread that builds the
 * chunk indexes of the files being published while the main thread hashes
 * their md5 and moves their bytes. Each buffer is copied to the worker (a
 * memcpy, cheap beside the hashing); at most HIGH_WATER bytes per file wait in
 * the worker's queue, so memory stays bounded when it falls behind.
 *
 * When the compiled worker is not there (the TypeScript sources run by vitest
 * in-process), createIndexWorker() returns null and callers hash in-thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CHUNKER_ID, type ChunkParams } from './cdc.js';
import { offsetsOf, type ChunkIndex } from './index-format.js';
import type { FromWorker, ToWorker } from './index-worker.js';

const HIGH_WATER = 16 * 1024 * 1024;

interface Pending {
  queued: number;
  wake: (() => void) | null;
  done: (r: { lengths: Uint32Array; hashes: Buffer }) => void;
  fail: (e: Error) => void;
}

export interface IndexJob {
  /** Sends a buffer; resolves when the worker's backlog for this job is below the high-water mark. */
  push(buf: Buffer): Promise<void>;
  /** The index of everything pushed; `md5` comes from the caller (it hashed the same bytes). */
  end(size: number, md5: string): Promise<ChunkIndex>;
}

export class IndexWorker {
  private next = 1;
  private readonly jobs = new Map<number, Pending>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`the chunk index worker exited (${code})`)));
  }

  static create(): IndexWorker | null {
    const file = fileURLToPath(new URL('./index-worker.js', import.meta.url));
    return existsSync(file) ? new IndexWorker(new Worker(file)) : null;
  }

  private send(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
  }

  private onMessage(m: FromWorker): void {
    const p = this.jobs.get(m.id);
    if (!p) return;
    if (m.type === 'ack') {
      p.queued -= m.bytes;
      const wake = p.wake;
      if (p.queued < HIGH_WATER && wake) {
        p.wake = null;
        wake();
      }
      return;
    }
    this.jobs.delete(m.id);
    if (m.type === 'done') p.done({ lengths: m.lengths, hashes: Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength) });
    else p.fail(new Error(`chunk index worker: ${m.message}`));
  }

  private failAll(err: Error): void {
    for (const p of this.jobs.values()) p.fail(err);
    this.jobs.clear();
  }

  start(params: ChunkParams): IndexJob {
    const id = this.next++;
    let resolveDone!: Pending['done'];
    let rejectDone!: Pending['fail'];
    const result = new Promise<{ lengths: Uint32Array; hashes: Buffer }>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
    result.catch(() => {}); // surfaced by end()
    const p: Pending = { queued: 0, wake: null, done: resolveDone, fail: rejectDone };
    this.jobs.set(id, p);
    this.send({ type: 'start', id, params });
    return {
      push: async (buf) => {
        const copy = new Uint8Array(buf); // its own ArrayBuffer, transferred
        p.queued += copy.byteLength;
        this.send({ type: 'data', id, buf: copy.buffer }, [copy.buffer]);
        if (p.queued >= HIGH_WATER) await Promise.race([new Promise<void>((r) => (p.wake = r)), result.then(() => undefined)]);
      },
      end: async (size, md5) => {
        this.send({ type: 'end', id });
        const { lengths, hashes } = await result;
        return { params, chunker: CHUNKER_ID, size, md5, lengths, offsets: offsetsOf(lengths), hashes };
      },
    };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
