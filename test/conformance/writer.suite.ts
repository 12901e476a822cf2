/**
 * The one behaviour suite every publish Writer runs against its real server,
 * read back through the same store's Source.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Writer } from '../../src/publish/types.js';
import type { Source } from '../../src/sources/types.js';
import { MiB, pseudoRandom } from '../helpers/bytes.js';
import type { Target } from '../helpers/targets.js';
import { digest } from './source.suite.js';

const io = () => ({ signal: AbortSignal.timeout(60_000) });

async function text(src: Source, p: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of await src.open(p, io())) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

function body(b: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < b.length; at += 256 * 1024) yield b.subarray(at, at + 256 * 1024);
    })(),
  );
}

export function runWriterSuite(name: string, start: () => Promise<Target>): void {
  describe(`writer: ${name}`, () => {
    let t: Target;
    let w: Writer;
    let src: Source;
    beforeAll(async () => {
      t = await start();
      w = t.writer();
      src = t.source();
    }, 120_000);
    afterAll(async () => {
      await w?.close();
      await src?.close();
      await t?.close();
    });

    it('puts a file in new nested directories; the source reads back the same bytes', async () => {
      await w.put('a/b/c.txt', Readable.from([Buffer.from('hello')]), { ...io(), size: 5 });
      expect(await text(src, 'a/b/c.txt')).toBe('hello');
      expect((await src.stat('a/b/c.txt', io()))?.size).toBe(5);
    });

    it('streams a file bigger than a multipart part, byte-exact', async () => {
      const data = pseudoRandom(20 * MiB + 17, 11);
      await w.put('big/data.bin', body(data), { ...io(), size: data.length });
      expect(await digest(src, 'big/data.bin')).toEqual({ md5: createHash('md5').update(data).digest('hex'), bytes: data.length });
    });

    it('renames onto an existing file, replacing it', async () => {
      await w.put('done', Readable.from([Buffer.from('old')]), { ...io(), size: 3 });
      await w.put('v/done.tmp', Readable.from([Buffer.from('new!')]), { ...io(), size: 4 });
      await w.rename('v/done.tmp', 'done', io());
      expect(await text(src, 'done')).toBe('new!');
      expect(await src.stat('v/done.tmp', io())).toBeNull();
      if (!w.features.atomicReplace) expect(w.features.atomicPut).toBe(true);
    });

    it('deletes a file; deleting one that is not there is fine', async () => {
      await w.put('x/gone.bin', Readable.from([Buffer.from('x')]), { ...io(), size: 1 });
      await w.delete('x/gone.bin', io());
      expect(await src.stat('x/gone.bin', io())).toBeNull();
      await w.delete('x/never-was.bin', io());
    });

    it('removes an empty directory, and leaves one that is not empty', async () => {
      await w.put('d1/keep.txt', Readable.from([Buffer.from('k')]), { ...io(), size: 1 });
      await w.put('d2/e/tmp.txt', Readable.from([Buffer.from('t')]), { ...io(), size: 1 });
      await w.delete('d2/e/tmp.txt', io());
      await w.removeDir('d2/e', io());
      await w.removeDir('d2', io());
      await w.removeDir('d1', io());
      expect(await src.stat('d2', io())).toBeNull();
      expect((await src.stat('d1/keep.txt', io()))?.size).toBe(1);
    });
  });
}
