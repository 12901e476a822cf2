/**
 * The head of an HTTP/1.x response, gathered across socket reads: the socket's
 * buffer is reused by the next read, so the head's bytes are copied out (a few
 * hundred bytes per response) until the blank line; what follows it in the
 * same read is body.
 */
import type { WireHead } from './engine.js';

/** A response head larger than this is not a file server's answer. */
export const MAX_HEAD = 64 * 1024;

export type HeadStep =
  /** The head is not complete yet: every byte of the read was taken. */
  | { readonly done: false }
  /** The head is complete; the read's body bytes start at `bodyAt`. */
  | { readonly done: true; readonly head: WireHead; readonly version: string; readonly bodyAt: number }
  | { readonly error: string };

export class HeadParser {
  private pending = Buffer.alloc(0);

  /** Takes the head's bytes of `buf[0, n)`. */
  push(buf: Buffer, n: number): HeadStep {
    const old = this.pending.length;
    // At most what can still belong to a head: a 1 MiB first read is not copied whole.
    const piece = buf.subarray(0, Math.min(n, MAX_HEAD + 4 - old));
    this.pending = old === 0 ? Buffer.from(piece) : Buffer.concat([this.pending, piece]);
    // The blank line may straddle two reads: look from 3 bytes back.
    const i = this.pending.indexOf('\r\n\r\n', Math.max(0, old - 3));
    if (i < 0) return this.pending.length > MAX_HEAD ? { error: `response head larger than ${MAX_HEAD} bytes` } : { done: false };
    const text = this.pending.toString('latin1', 0, i);
    this.pending = Buffer.alloc(0);
    const parsed = parseHead(text);
    return 'error' in parsed ? parsed : { done: true, ...parsed, bodyAt: i + 4 - old };
  }
}

/** `HTTP/1.1 200 OK\r\nName: value\r\n…\r\n\r\n` → status and lower-case headers (repeated ones joined with ', '). */
export function parseHead(text: string): { head: WireHead; version: string } | { error: string } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return { error: `not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}` };
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `malformed header line: ${JSON.stringify(line.slice(0, 80))}` };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { head: { status: Number(m[2]), headers }, version: m[1]! };
}
