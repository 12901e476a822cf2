/**
 * A worker's WireFault rebuilt as the MonitorError the rest of the tool reads
 * (errors.ts), with `bytesWritten` (engine.ts WireFailure): the bytes on disk,
 * a resume point. The mapping mirrors the stock path: a drop or a stall is a
 * TransientError (retried, resumed), a size lie a RemoteError, ENOSPC a
 * NoSpaceError, any other local write failure a TransientError as
 * transfer.ts's asFetchError makes it.
 */
import { AbortedError, mapLocalWriteError, MonitorError, RemoteError, TransientError } from '../errors.js';
import type { WireFailure } from './engine.js';
import type { WireFault } from './messages.js';

/** The wire path cannot take this answer (a chunked body); nothing was written: the caller reads it the stock way. */
export class WireUnsupportedError extends RemoteError {}

export function withBytes<E extends Error>(err: E, bytesWritten: number): E & WireFailure {
  return Object.assign(err, { bytesWritten });
}

export function rebuild(f: WireFault, bytesWritten: number, file: string): MonitorError & WireFailure {
  return withBytes(asError(f, file), bytesWritten);
}

function asError(f: WireFault, file: string): MonitorError {
  const cause = f.code ? Object.assign(new Error(f.message), { code: f.code }) : undefined;
  const o = cause ? { cause } : undefined;
  switch (f.kind) {
    case 'network':
    case 'stall':
      return new TransientError(f.message, o);
    case 'size':
    case 'protocol':
      return new RemoteError(f.message, o);
    case 'unsupported':
      return new WireUnsupportedError(f.message, o);
    case 'aborted':
      return new AbortedError(f.message, o);
    case 'write': {
      const mapped = mapLocalWriteError(cause ?? new Error(f.message), file);
      return mapped instanceof MonitorError ? mapped : new TransientError(`${f.message}: transfer failed`, o);
    }
  }
}
