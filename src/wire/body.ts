/**
 * The framing of one answer's body in a wire job: how many bytes belong to it
 * (Content-Length, or all until EOF), and for an answer that is not the file
 * (a 404, a 500) the first bytes kept as text for the error message.
 */

/** Of an answer that is not the file, this much of its body is kept (the rest is not read). */
export const ERROR_BODY_MAX = 64 * 1024;

/** 'write': the body is the file's bytes; 'error': it is kept as text (at most ERROR_BODY_MAX), never written. */
export type BodyMode = 'write' | 'error';

export class Body {
  /** Body bytes seen. */
  received = 0;
  /** Bytes past the framed end came in the same read (the connection cannot be reused). */
  extra = false;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  /** The last bytes kept (a chunked body's end marker). */
  private tail = '';

  constructor(
    readonly mode: BodyMode,
    /** Content-Length; null = to EOF. */
    readonly length: number | null,
    /** The connection may serve the next job once this body is read whole. */
    public keepAlive = false,
    /** An error body in chunked framing: kept as it comes, decoded by text(), complete at its last chunk. */
    private readonly chunked = false,
  ) {}

  /** Of `n` bytes read, how many belong to this body (counted as received). */
  accept(n: number): number {
    const k = this.length === null ? n : Math.min(n, this.length - this.received);
    this.received += k;
    return k;
  }

  get complete(): boolean {
    if (this.chunked) return /(^|\r\n)0\r\n\r\n$/.test(this.tail);
    return this.length !== null && this.received >= this.length;
  }

  /** Keeps (copies) an error body's bytes, up to ERROR_BODY_MAX. */
  keep(b: Buffer): void {
    const room = ERROR_BODY_MAX - this.keptBytes;
    if (room <= 0) return;
    const piece = Buffer.from(b.subarray(0, room));
    this.kept.push(piece);
    this.keptBytes += piece.length;
    this.tail = (this.tail + piece.toString('latin1', Math.max(0, piece.length - 7))).slice(-7);
  }

  get errorFull(): boolean {
    return this.keptBytes >= ERROR_BODY_MAX;
  }

  text(): string {
    const all = Buffer.concat(this.kept);
    return this.chunked ? dechunk(all).toString('utf8') : all.toString('utf8');
  }
}

/** A chunked body's data (as much of it as is there). */
function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length;) {
    const eol = b.indexOf('\r\n', at);
    const size = eol < 0 ? NaN : parseInt(b.toString('latin1', at, eol), 16);
    if (!(size > 0)) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
