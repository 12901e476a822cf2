/**
 * What an HTTP answer read by the wire engine says about its file, in the
 * terms open() gives it (withMeta): the whole file's size (a Content-Range's
 * total, or the Content-Length of a whole answer) and its version.
 */
import type { WireHead } from '../wire/engine.js';
import { versionOf } from './http-body.js';
import type { OpenedMeta } from './types.js';

export function httpMeta(head: WireHead, ranged: boolean): OpenedMeta {
  const h = head.headers;
  const total = ranged ? Number(/\/(\d+)$/.exec(h['content-range'] ?? '')?.[1]) : Number(h['content-length']);
  return { ...(Number.isSafeInteger(total) ? { size: total } : {}), ...versionOf(head) };
}
