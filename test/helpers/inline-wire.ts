/**
 * A WireEngine for tests, in the test's own thread: real sockets (net), the
 * 'raw' protocol only (an FTP data connection), positional writes. Enough to
 * run a source's download() against real servers without the worker pool;
 * the same contract as src/wire/engine.ts (bytesWritten on failures, the size
 * lie and the drop told apart, the idle deadline).
 */
import type { Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { abortReason, AbortedError, RemoteError, TransientError, type MonitorError } from '../../src/errors.js';
import { hashPrefix } from '../../src/ordered-md5.js';
import type { WireEngine, WireJob, WireResult, WireRunOptions } from '../../src/wire/engine.js';

export interface InlineWire extends WireEngine {
  /** Jobs run so far. */
  readonly jobs: () => number;
}

export function inlineWire(): InlineWire {
  const running = new Set<Socket>();
  let jobs = 0;
  return {
    jobs: () => jobs,
    warm: () => true,
    async run(job, o) {
      if (job.protocol !== 'raw') throw new Error('inline wire: raw jobs only');
      jobs++;
      const fh = await open(job.file, 'a+').then(async (h) => (await h.close(), open(job.file, 'r+')));
      try {
        const hash = job.md5 ? await hashPrefix(job.file, job.position) : null;
        return await runRaw(job, o, fh, hash, running);
      } finally {
        await fh.close();
      }
    },
    async close() {
      for (const s of running) s.destroy(new AbortedError('inline wire closed'));
    },
  };
}

function fail(err: MonitorError, bytes: number): MonitorError {
  return Object.assign(err, { bytesWritten: bytes });
}

function runRaw(job: WireJob, o: WireRunOptions, fh: FileHandle, hash: Hash | null, running: Set<Socket>): Promise<WireResult> {
  return new Promise<WireResult>((resolve, reject) => {
    let written = 0;
    let settled = false;
    let chain: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const sock = connect({ host: job.host, port: job.port });
    running.add(sock);
    const finish = (err: MonitorError | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      running.delete(sock);
      sock.destroy();
      // Bytes still being written count once they are on disk.
      void chain.then(() => (err ? reject(fail(err, written)) : resolve({ bytes: written, md5: hash ? hash.digest('hex') : null })));
    };
    const arm = (ms: number, what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new TransientError(`${job.host}:${job.port}: ${what} for ${ms} ms`)), ms);
    };
    const onAbort = () => finish(abortReason(o.signal));
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    arm(job.headMs, 'no connection');
    sock.on('connect', () => {
      arm(job.idleMs, 'no byte');
      o.onConnected?.();
    });
    sock.on('data', (chunk: Buffer) => {
      arm(job.idleMs, 'no byte');
      const room = job.length - written;
      if (chunk.length > room) return finish(new RemoteError(`${job.host}:${job.port}: more than the ${job.length} bytes expected`));
      sock.pause();
      chain = chain
        .then(async () => {
          await fh.write(chunk, 0, chunk.length, job.position + written);
          hash?.update(chunk);
          written += chunk.length;
          o.onBytes?.(chunk.length);
          if (!settled) sock.resume();
        })
        .catch((err: unknown) => finish(new TransientError(`${job.file}: write failed`, { cause: err })));
    });
    sock.on('end', () => {
      void chain.then(() => {
        if (written < job.length) finish(new TransientError(`${job.host}:${job.port}: connection ended after ${written} of ${job.length} bytes`));
        else finish(null);
      });
    });
    sock.on('error', (err) => finish(new TransientError(`${job.host}:${job.port}: ${err.message}`, { cause: err })));
    sock.on('close', () => void chain.then(() => finish(new TransientError(`${job.host}:${job.port}: connection closed after ${written} bytes`))));
  });
}
