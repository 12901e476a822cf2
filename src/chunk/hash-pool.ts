/**
 * The main thread's side of hash-worker.ts: a small pool of worker threads
 * that hash the files being published (each file's md5 on one worker, its
 * chunk index on another) while the main thread only reads and sends bytes.
 * Each buffer is copied into one of a few reused 1 MiB buffers that go to the
 * worker and come back with its ack (a memcpy, cheap beside the hashing, and
 * no garbage); at most HIGH_WATER bytes per job wait in a worker's queue, so
 * memory stays bounded when the hashing falls behind the reading.
 *
 * When the compiled worker is not there (the TypeScript sources run by vitest
 * in-process), HashPool.create() returns null and callers hash in-thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CHUNKER_ID, type ChunkParams } from './cdc.js';
import { offsetsOf, type ChunkIndex } from './index-format.js';
import type { Done, FromWorker, ToWorker } from './hash-worker.js';

const HIGH_WATER = 4 * 1024 * 1024;
const BUFFER_BYTES = 1024 * 1024;
/** Idle buffers kept for reuse (beyond that, returned ones are dropped). */
const FREE_MAX = 32;

export interface HashJob<T> {
  /** Sends a buffer (copied); resolves when this job's backlog is below the high-water mark. */
  push(buf: Buffer): Promise<void>;
  end(): Promise<T>;
}

interface Pending {
  readonly worker: Slot;
  queued: number;
  wake: (() => void) | null;
  done: (r: Done) => void;
  fail: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** Bytes queued on it over all its jobs: new jobs go to the least busy. */
  queued: number;
  jobs: number;
}

export class HashPool {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly free: ArrayBuffer[] = [];

  private constructor(private readonly slots: Slot[]) {
    for (const s of slots) {
      s.worker.on('message', (m: FromWorker) => this.onMessage(m));
      s.worker.on('error', (err) => this.failAll(err));
    }
  }

  /** `size` workers (default: the cores, at most 4, at least 2); null when the compiled worker is missing. */
  static create(size = Math.min(4, Math.max(2, availableParallelism()))): HashPool | null {
    const file = fileURLToPath(new URL('./hash-worker.js', import.meta.url));
    if (!existsSync(file)) return null;
    return new HashPool(Array.from({ length: size }, () => ({ worker: new Worker(file), queued: 0, jobs: 0 })));
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'ack') {
      if (this.free.length < FREE_MAX && m.buf.byteLength === BUFFER_BYTES) this.free.push(m.buf);
      p.queued -= m.bytes;
      p.worker.queued -= m.bytes;
      const wake = p.wake;
      if (wake && p.queued < HIGH_WATER) {
        p.wake = null;
        wake();
      }
      return;
    }
    this.pending.delete(m.id);
    p.worker.jobs--;
    if (m.type === 'done') p.done(m.result);
    else p.fail(new Error(`hash worker: ${m.message}`));
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.fail(err);
    this.pending.clear();
  }

  /** The least busy worker, other than `not` when there is a choice. */
  private pick(not?: Slot): Slot {
    const free = this.slots.filter((s) => s !== not);
    return (free.length ? free : this.slots).reduce((a, b) => (b.jobs * 1e12 + b.queued < a.jobs * 1e12 + a.queued ? b : a));
  }

  private start<T>(msg: (id: number) => ToWorker, convert: (d: Done) => T, not?: Slot): HashJob<T> & { slot: Slot } {
    const id = this.next++;
    const slot = this.pick(not);
    let done!: (r: Done) => void;
    let fail!: (e: Error) => void;
    const result = new Promise<Done>((res, rej) => ((done = res), (fail = rej)));
    result.catch(() => {}); // surfaced by end()
    const p: Pending = { worker: slot, queued: 0, wake: null, done, fail };
    this.pending.set(id, p);
    slot.jobs++;
    slot.worker.postMessage(msg(id));
    return {
      slot,
      push: async (buf) => {
        for (let at = 0; at < buf.length; at += BUFFER_BYTES) {
          const piece = buf.subarray(at, at + BUFFER_BYTES);
          const ab = this.free.pop() ?? new ArrayBuffer(BUFFER_BYTES);
          new Uint8Array(ab).set(piece);
          p.queued += piece.length;
          slot.queued += piece.length;
          slot.worker.postMessage({ type: 'data', id, buf: ab, length: piece.length } satisfies ToWorker, [ab]);
        }
        if (p.queued >= HIGH_WATER) await Promise.race([new Promise<void>((r) => (p.wake = r)), result.then(() => undefined)]);
      },
      end: async () => {
        slot.worker.postMessage({ type: 'end', id } satisfies ToWorker);
        return convert(await result);
      },
    };
  }

  /** An md5 job and, with `chunking`, an index job on another worker; fed the same bytes. */
  file(chunking: ChunkParams | null): { push(buf: Buffer): Promise<void>; end(): Promise<{ md5: string; index: ((size: number) => ChunkIndex) | null }> } {
    const md5 = this.start(
      (id) => ({ type: 'start', id, kind: 'md5' }),
      (d) => (d as { md5: string }).md5,
    );
    const ix = chunking
      ? this.start(
          (id) => ({ type: 'start', id, kind: 'index', params: chunking }),
          (d) => d as { lengths: Uint32Array; hashes: Uint8Array },
          md5.slot,
        )
      : null;
    return {
      push: async (buf) => {
        await Promise.all([md5.push(buf), ix?.push(buf)]);
      },
      end: async () => {
        const [sum, parts] = await Promise.all([md5.end(), ix?.end()]);
        if (!parts) return { md5: sum, index: null };
        const hashes = Buffer.from(parts.hashes.buffer, parts.hashes.byteOffset, parts.hashes.byteLength);
        const index = (size: number): ChunkIndex => ({
          params: chunking!,
          chunker: CHUNKER_ID,
          size,
          md5: sum,
          lengths: parts.lengths,
          offsets: offsetsOf(parts.lengths),
          hashes,
        });
        return { md5: sum, index };
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
