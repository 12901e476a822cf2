import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleFile, type ReadRemote } from '../../../src/chunk/assemble.js';
import { digestBuffer } from '../../../src/chunk/build.js';
import { planDelta } from '../../../src/chunk/delta.js';
import { IntegrityError, TransientError } from '../../../src/errors.js';
import { md5 } from '../../helpers/producer.js';
import { KiB, MiB, pieces, pseudoRandom } from '../../helpers/bytes.js';
import { applyEdits, type Edit } from '../../helpers/edits.js';

let dir: string;
const base = pseudoRandom(6 * MiB, 5);
const oldIx = digestBuffer(base).index!;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-assemble-'));
  await writeFile(path.join(dir, 'old'), base);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A ranged reader over `data` that sends odd-sized pieces, counts requests, and can misbehave. */
function remote(data: Buffer, o: { cutOnceAfter?: number; corruptAt?: number } = {}): ReadRemote & { calls: [number, number][] } {
  const calls: [number, number][] = [];
  let cut = o.cutOnceAfter;
  const f = (start: number, length: number) => {
    calls.push([start, length]);
    const bytes = Buffer.from(data.subarray(start, start + length));
    if (o.corruptAt !== undefined && o.corruptAt >= start && o.corruptAt < start + length) bytes[o.corruptAt - start]! ^= 0xff;
    const parts = pieces(bytes, 50_000);
    if (cut === undefined) return Readable.from(parts);
    const limit = cut;
    cut = undefined;
    return Readable.from(
      (async function* () {
        let sent = 0;
        for (const p of parts) {
          if (sent + p.length > limit) throw new TransientError('connection dropped');
          sent += p.length;
          yield p;
        }
      })(),
    );
  };
  return Object.assign(f, { calls });
}

async function build(newData: Buffer, r: ReadRemote, oldFile = path.join(dir, 'old')) {
  const index = digestBuffer(newData).index!;
  const plan = planDelta(oldIx, index);
  const dest = path.join(dir, `new-${Math.random().toString(16).slice(2)}`);
  const res = await assembleFile({ oldFile, index, plan, dest, readRemote: r, signal: AbortSignal.timeout(30_000) });
  return { res, plan, bytes: await readFile(dest) };
}

describe('assembleFile', () => {
  const cases: [string, Edit[]][] = [
    ['insert in the middle', [{ kind: 'insert', at: 3 * MiB + 5, length: 200 * KiB }]],
    [
      'rewrite regions',
      [
        { kind: 'rewrite', at: 1 * MiB, length: 100 * KiB },
        { kind: 'rewrite', at: 4 * MiB, length: 300 * KiB },
      ],
    ],
    ['append', [{ kind: 'append', length: 1 * MiB + 3 }]],
    ['no change', []],
    ['truncate to nothing', [{ kind: 'truncate', length: 6 * MiB }]],
  ];
  it.each(cases)('%s: byte-identical to the new version, fetching only the planned ranges', async (_n, edits) => {
    const { data } = applyEdits(base, edits);
    const r = remote(data);
    const { res, plan, bytes } = await build(data, r);
    expect(bytes.equals(data)).toBe(true);
    expect(res.md5).toBe(md5(data));
    expect(res.fetchedBytes).toBe(plan.fetchedBytes);
    expect(res.reusedBytes).toBe(plan.reusedBytes);
    expect(r.calls.length).toBe(plan.requests);
  });

  it('a served copy modified on disk: the bad chunks are fetched instead, the result is still exact', async () => {
    const { data } = applyEdits(base, [{ kind: 'append', length: 100 * KiB }]);
    const damaged = Buffer.from(base);
    damaged.fill(0, 2 * MiB, 2 * MiB + 10);
    await writeFile(path.join(dir, 'damaged'), damaged);
    const { res, bytes } = await build(data, remote(data), path.join(dir, 'damaged'));
    expect(bytes.equals(data)).toBe(true);
    expect(res.refetchedBytes).toBeGreaterThan(0);
    expect(res.refetchedBytes).toBeLessThanOrEqual(2 * 256 * KiB);
  });

  it('a fetched range cut mid-way is requested again from the chunk in progress', async () => {
    const { data } = applyEdits(base, [{ kind: 'rewrite', at: 1 * MiB, length: 2 * MiB }]);
    const r = remote(data, { cutOnceAfter: 700 * KiB });
    const { res, plan, bytes } = await build(data, r);
    expect(bytes.equals(data)).toBe(true);
    expect(r.calls.length).toBe(plan.requests + 1);
    const [first, again] = r.calls;
    expect(again![0]).toBeGreaterThan(first![0]);
    expect(again![0] + again![1]).toBe(first![0] + first![1]);
    expect(res.fetchedBytes).toBeLessThan(plan.fetchedBytes + 700 * KiB);
  });

  it('fetched bytes that are not the indexed ones: IntegrityError', async () => {
    const { data } = applyEdits(base, [{ kind: 'rewrite', at: 1 * MiB, length: 100 * KiB }]);
    await expect(build(data, remote(data, { corruptAt: 1 * MiB + 50 }))).rejects.toThrow(IntegrityError);
  });

  it('a plan that does not cover the file is refused before any I/O', async () => {
    const index = digestBuffer(base).index!;
    const plan = { ...planDelta(oldIx, index), ops: [] };
    const dest = path.join(dir, 'never');
    await expect(
      assembleFile({ oldFile: path.join(dir, 'old'), index, plan, dest, readRemote: remote(base), signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow(/covers 0 bytes/);
  });

  it('never writes through a symlink at the destination', async () => {
    const index = digestBuffer(base).index!;
    const dest = path.join(dir, 'link');
    await writeFile(path.join(dir, 'victim'), 'keep');
    await symlink(path.join(dir, 'victim'), dest);
    const args = { oldFile: path.join(dir, 'old'), index, plan: planDelta(oldIx, index), dest, readRemote: remote(base), signal: AbortSignal.timeout(5000) };
    await expect(assembleFile(args)).rejects.toThrow(/ELOOP/);
    expect(await readFile(path.join(dir, 'victim'), 'utf8')).toBe('keep');
  });
});
