import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Writes `size` deterministic bytes to `file` (parents created) without holding them in memory; returns their md5. */
export async function writeLargeFile(file: string, size: number): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const h = createHash('md5');
  const out = createWriteStream(file);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let left = size; left > 0; left -= chunk.length) {
    const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
    h.update(c);
    if (!out.write(c)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}
