/**
 * The main thread's side of the wire engine: a fixed pool of worker threads
 * (worker.ts), started when a pull begins (warm()) or on the first job, so a
 * run that pulls nothing pays nothing for them. Each job goes to the worker with the fewest; its events
 * come back as messages, in order, so a head is always judged (onHead) before
 * the job's end is seen. An abort (the signal, onHead or onConnected throwing)
 * asks the worker to destroy the socket and waits for its answer: the error
 * then carries the exact bytes on disk.
 *
 * The worker is compiled JavaScript (dist/wire/worker.js). Run from the
 * TypeScript sources (vitest), this file finds it under dist/ (built by
 * `npm run build`, which `npm test` runs first); with no compiled worker at
 * all there is no engine (createWireEngine returns null) and every source
 * takes its stock path.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AbortedError, TransientError } from '../errors.js';
import type { WireEngine, WireJob, WireResult, WireRunOptions } from './engine.js';
import { rebuild, withBytes } from './faults.js';
import type { FromWorker, ToWorker } from './messages.js';

export interface WireEngineOptions {
  /** Worker threads; default min(2, cores): the main thread keeps the control plane, the kernel copies take the rest. */
  readonly workers?: number;
}

interface Slot {
  readonly worker: Worker;
  jobs: number;
  /** The worker's thread is running (its 'online' event). */
  online: boolean;
}

interface Pending {
  readonly slot: Slot;
  readonly job: WireJob;
  readonly o: WireRunOptions;
  readonly resolve: (r: WireResult) => void;
  readonly reject: (e: unknown) => void;
  /** Why the main thread stopped the job (an abort, onHead refusing the answer); the worker's answer is awaited. */
  stopped: Error | null;
  readonly dispose: () => void;
}

/** The compiled worker: beside this file, or under dist/ when this file is the TypeScript source. */
export function workerFile(): string | null {
  const here = fileURLToPath(import.meta.url);
  const beside = path.join(path.dirname(here), 'worker.js');
  if (existsSync(beside)) return beside;
  const built = path.resolve(path.dirname(here), '../../dist/wire/worker.js');
  return existsSync(built) ? built : null;
}

/** The engine, or null when there is no compiled worker to run (then: the stock data path). */
export function createWireEngine(o: WireEngineOptions = {}): WireEngine | null {
  const file = workerFile();
  return file ? new WirePool(file, o.workers ?? Math.min(2, availableParallelism())) : null;
}

class WirePool implements WireEngine {
  private slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private next = 1;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly size: number,
  ) {}

  run(job: WireJob, o: WireRunOptions): Promise<WireResult> {
    if (this.closed) return Promise.reject(withBytes(new AbortedError('the wire engine is closed'), 0));
    if (o.signal.aborted) return Promise.reject(withBytes(new AbortedError('cancelled', { cause: o.signal.reason }), 0));
    const slot = this.pick();
    const id = this.next++;
    return new Promise<WireResult>((resolve, reject) => {
      const onAbort = () => this.stop(id, withBytes(new AbortedError('cancelled', { cause: o.signal.reason }), 0));
      o.signal.addEventListener('abort', onAbort, { once: true });
      const dispose = () => o.signal.removeEventListener('abort', onAbort);
      this.pending.set(id, { slot, job, o, resolve, reject, stopped: null, dispose });
      if (slot.jobs++ === 0) slot.worker.ref();
      const gated = o.gate !== undefined;
      slot.worker.postMessage({ type: 'run', id, job: gated ? { ...job, gated } : job } satisfies ToWorker);
      o.gate?.then(
        () => {
          if (this.pending.get(id)?.stopped === null) slot.worker.postMessage({ type: 'go', id } satisfies ToWorker);
        },
        (err: unknown) => this.stop(id, err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  warm(): boolean {
    if (this.closed) return false;
    while (this.slots.length < this.size) this.spawn();
    return this.slots.some((s) => s.online);
  }

  /** The worker with the fewest jobs; the pool fills up to `size` workers as jobs come. */
  private pick(): Slot {
    const idle = this.slots.find((s) => s.jobs === 0);
    if (idle) return idle;
    if (this.slots.length < this.size) return this.spawn();
    return this.slots.reduce((a, b) => (b.jobs < a.jobs ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(this.file);
    const slot: Slot = { worker, jobs: 0, online: false };
    worker.once('online', () => (slot.online = true));
    // Idle until its first job: a warmed pool does not keep the process alive by itself.
    worker.unref();
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    const lost = (err: Error) => this.lost(slot, err);
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    try {
      if (m.type === 'connected' && !p.stopped) p.o.onConnected?.();
      else if (m.type === 'head' && !p.stopped) p.o.onHead?.(m.head);
      else if (m.type === 'bytes') p.o.onBytes?.(m.n);
    } catch (err) {
      this.stop(m.id, err instanceof Error ? err : new Error(String(err)));
    }
    if (m.type === 'done') {
      this.end(m.id, p);
      if (p.stopped) p.reject(withBytes(p.stopped, m.bytes));
      else p.resolve({ bytes: m.bytes, md5: m.md5, ...(m.head ? { head: m.head } : {}), ...(m.errorBody !== undefined ? { errorBody: m.errorBody } : {}) });
    } else if (m.type === 'fail') {
      this.end(m.id, p);
      p.reject(p.stopped ? withBytes(p.stopped, m.bytesWritten) : rebuild(m.fault, m.bytesWritten, p.job.file));
    }
  }

  /** The main thread ends job `id` with `err`, once the worker says it has let go of the socket and the file. */
  private stop(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p || p.stopped) return;
    p.stopped = err;
    p.slot.worker.postMessage({ type: 'abort', id } satisfies ToWorker);
  }

  private end(id: number, p: Pending): void {
    this.pending.delete(id);
    p.dispose();
    if (--p.slot.jobs === 0) p.slot.worker.unref();
  }

  /** A worker died: its jobs fail as drops (0 bytes claimed: a resume re-fetches from the last known point), the next job starts a new one. */
  private lost(slot: Slot, err: Error): void {
    if (!this.slots.includes(slot)) return;
    this.slots = this.slots.filter((s) => s !== slot);
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.end(id, p);
      p.reject(p.stopped ? withBytes(p.stopped, 0) : withBytes(new TransientError(`wire worker: ${err.message}`, { cause: err }), 0));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    for (const [id, p] of this.pending) {
      this.end(id, p);
      p.reject(p.stopped ? withBytes(p.stopped, 0) : withBytes(new AbortedError('the wire engine was closed'), 0));
    }
    await Promise.all(slots.map((s) => (s.online ? s.worker.terminate() : void s.worker.terminate())));
  }
}
