/**
 * The messages between the main thread (pool.ts) and a wire worker
 * (worker.ts): plain, structured-clone data only. An error crosses as a
 * WireFault (a kind and a message) and is rebuilt as a MonitorError on the
 * main thread (faults.ts): class instances do not survive postMessage.
 */
import type { WireHead, WireJob } from './engine.js';

/**
 * What went wrong in a worker, as data. `network`: the socket failed or closed
 * early (a TransientError); `stall`: a deadline of the job's own (head, idle,
 * min rate); `size`: more bytes than asked (a RemoteError); `protocol`: an
 * answer we cannot read (a RemoteError); `unsupported`: an answer the wire path
 * does not handle (a chunked body): nothing was written, the caller takes the
 * stock path; `write`: the local file (`code` is its errno code: ENOSPC…);
 * `aborted`: the main thread asked.
 */
export interface WireFault {
  readonly kind: 'network' | 'stall' | 'size' | 'protocol' | 'unsupported' | 'write' | 'aborted';
  readonly message: string;
  readonly code?: string | undefined;
}

export type ToWorker =
  | { readonly type: 'run'; readonly id: number; readonly job: WireJob }
  /** A gated job's bytes may go to its file now. */
  | { readonly type: 'go'; readonly id: number }
  | { readonly type: 'abort'; readonly id: number };

export type FromWorker =
  | { readonly type: 'connected'; readonly id: number }
  | { readonly type: 'head'; readonly id: number; readonly head: WireHead }
  /** Body bytes written since the last 'bytes' (batched). */
  | { readonly type: 'bytes'; readonly id: number; readonly n: number }
  | { readonly type: 'done'; readonly id: number; readonly bytes: number; readonly md5: string | null; readonly head?: WireHead; readonly errorBody?: string }
  | { readonly type: 'fail'; readonly id: number; readonly fault: WireFault; readonly bytesWritten: number };
