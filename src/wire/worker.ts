/**
 * Worker thread entry of the wire engine: runs the jobs the main thread sends
 * (several at once, each on its own socket made here: a socket cannot move
 * between threads) and answers with plain messages (messages.ts). Progress is
 * batched: a job reports every few MiB, and a tick reports what is left so a
 * slow transfer's progress does not look stuck.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { Conns } from './conns.js';
import { Job } from './job.js';
import type { FromWorker, ToWorker } from './messages.js';

const TICK_MS = 250;

class WireWorker {
  private readonly conns = new Conns();
  private readonly jobs = new Map<number, Job>();
  private tick: NodeJS.Timeout | null = null;

  constructor(private readonly port: MessagePort) {
    port.on('message', (m: ToWorker) => {
      if (m.type === 'run') this.run(m.id, m);
      else if (m.type === 'go') void this.jobs.get(m.id)?.go();
      else this.jobs.get(m.id)?.abort();
    });
    port.on('close', () => this.conns.closeAll());
  }

  private send(m: FromWorker): void {
    this.port.postMessage(m);
  }

  private ended(id: number): void {
    this.jobs.delete(id);
    if (this.jobs.size === 0 && this.tick) {
      clearInterval(this.tick);
      this.tick = null;
    }
  }

  private run(id: number, m: Extract<ToWorker, { type: 'run' }>): void {
    const job = new Job(m.job, this.conns, {
      connected: () => this.send({ type: 'connected', id }),
      head: (head) => this.send({ type: 'head', id, head }),
      bytes: (n) => this.send({ type: 'bytes', id, n }),
      done: (r) => {
        this.ended(id);
        this.send({ type: 'done', id, ...r });
      },
      fail: (fault, bytesWritten) => {
        this.ended(id);
        this.send({ type: 'fail', id, fault, bytesWritten });
      },
    });
    this.jobs.set(id, job);
    this.tick ??= setInterval(() => this.jobs.forEach((j) => j.report()), TICK_MS);
    void job.start();
  }
}

new WireWorker(parentPort!);
