/**
 * A tiny ustar writer for hostile archives the `tar` package refuses to
 * create (`../` names, absolute paths, links out, devices).
 */
export interface RawEntry {
  readonly name: string;
  /** '0' file, '1' hardlink, '2' symlink, '3' char device, '5' dir, '6' fifo ('x': a PAX header, made by rawTar). */
  readonly type?: '0' | '1' | '2' | '3' | '5' | '6' | 'x';
  readonly linkname?: string;
  readonly data?: string | Buffer;
}

function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(e.name.slice(0, 100), 0, 100);
  put(oct(e.type === '5' ? 0o755 : 0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put(e.type ?? '0', 156, 1);
  put(e.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** A PAX extended header ('x') carrying a path or link path longer than ustar's 100 bytes. */
function pax(e: RawEntry): Buffer[] {
  const recs: string[] = [];
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    recs.push(`${len}${body}`);
  };
  if (Buffer.byteLength(e.name) > 100) rec('path', e.name);
  if (e.linkname && Buffer.byteLength(e.linkname) > 100) rec('linkpath', e.linkname);
  if (recs.length === 0) return [];
  const data = Buffer.from(recs.join(''));
  return [header({ name: 'PaxHeader', type: 'x' as RawEntry['type'] }, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)];
}

export function rawTar(entries: readonly RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(...pax(e));
    const data = Buffer.from(e.data ?? '');
    const size = e.type && e.type !== '0' ? 0 : data.length; // (names and link names over 100 bytes ride in a PAX header)
    parts.push(header(e, size));
    if (size) parts.push(data, Buffer.alloc((512 - (size % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
