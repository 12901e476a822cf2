import { describe, expect, it } from 'vitest';
import { digestBuffer } from '../../../src/chunk/build.js';
import { DEFAULT_CHUNKING } from '../../../src/chunk/cdc.js';
import { planDelta, planFile, type DeltaPlan } from '../../../src/chunk/delta.js';
import { encodeIndex } from '../../../src/chunk/index-format.js';
import { KiB, MiB, pseudoRandom } from '../../helpers/bytes.js';
import { applyEdits, type Edit } from '../../helpers/edits.js';

const { max } = DEFAULT_CHUNKING;
const base = pseudoRandom(8 * MiB, 3);
const oldIx = digestBuffer(base).index!;

/** The plan's ops tile the new file, and local ops point at the same bytes in the old one. */
function checkPlan(p: DeltaPlan, oldData: Buffer, newData: Buffer): void {
  let at = 0;
  for (const op of p.ops) {
    expect(op.start).toBe(at);
    if (op.kind === 'local') expect(oldData.subarray(op.from!, op.from! + op.length).equals(newData.subarray(op.start, op.start + op.length))).toBe(true);
    at += op.length;
  }
  expect(at).toBe(newData.length);
  expect(p.fetchedBytes + p.reusedBytes).toBe(newData.length);
}

describe('planDelta', () => {
  // [name, edits, most bytes fetched (beyond the changed ones), requests]
  const cases: [string, Edit[], number, number][] = [
    ['no change', [], 0, 0],
    ['insert 1 MiB in the middle', [{ kind: 'insert', at: 4 * MiB + 777, length: 1 * MiB }], 2 * max, 1],
    ['insert 1 byte at the start', [{ kind: 'insert', at: 0, length: 1 }], 2 * max, 1],
    ['rewrite 3 regions of 300 KiB', [0, 1, 2].map((k): Edit => ({ kind: 'rewrite', at: (1 + 2.5 * k) * MiB, length: 300 * KiB })), 3 * 2 * max, 3],
    ['append 2 MiB', [{ kind: 'append', length: 2 * MiB }], max, 1],
    ['truncate 1 MiB', [{ kind: 'truncate', length: 1 * MiB }], max, 1],
    [
      'all at once: rewrites, an insert, an append',
      [
        { kind: 'rewrite', at: 1 * MiB, length: 256 * KiB },
        { kind: 'rewrite', at: 6 * MiB, length: 256 * KiB },
        { kind: 'insert', at: 3 * MiB, length: 100 * KiB },
        { kind: 'append', length: 512 * KiB },
      ],
      4 * 2 * max,
      4,
    ],
  ];
  it.each(cases)('%s: fetches about the changed bytes, in few requests', (_name, edits, slack, requests) => {
    const { data, changedBytes } = applyEdits(base, edits);
    const p = planDelta(oldIx, digestBuffer(data).index!);
    checkPlan(p, base, data);
    expect(p.fetchedBytes).toBeGreaterThanOrEqual(changedBytes);
    expect(p.fetchedBytes).toBeLessThanOrEqual(changedBytes + slack);
    expect(p.requests).toBeLessThanOrEqual(requests);
  });

  it("the issue's delta, smaller (64 MiB: 8 rewrites of 1 MiB, 256 KiB inserted mid-file, 4 MiB appended): ≤ 1.2 × the changed bytes + the index", () => {
    const big = pseudoRandom(64 * MiB, 21);
    const edits: Edit[] = [
      ...Array.from({ length: 8 }, (_, k): Edit => ({ kind: 'rewrite', at: (k * 8 + 2) * MiB, length: 1 * MiB })),
      { kind: 'insert', at: 32 * MiB + 123, length: 256 * KiB },
      { kind: 'append', length: 4 * MiB },
    ];
    const { data, changedBytes } = applyEdits(big, edits);
    const newIx = digestBuffer(data).index!;
    const p = planDelta(digestBuffer(big).index!, newIx);
    checkPlan(p, big, data);
    const indexBytes = encodeIndex(newIx).length;
    expect(p.fetchedBytes).toBeLessThanOrEqual(1.2 * changedBytes + indexBytes);
    expect(p.requests).toBeLessThanOrEqual(10);
  });

  it('an empty new file: nothing to do', () => {
    const p = planDelta(oldIx, digestBuffer(Buffer.alloc(0)).index!);
    expect(p).toEqual({ ops: [], fetchedBytes: 0, reusedBytes: 0, requests: 0 });
  });

  it('an empty old file: the whole new file in one request', () => {
    const p = planDelta(digestBuffer(Buffer.alloc(0)).index!, oldIx);
    expect(p.ops).toEqual([{ kind: 'fetch', start: 0, length: base.length, first: 0, count: oldIx.lengths.length }]);
  });

  it('finds moved blocks: the two halves swapped are all local reads', () => {
    const half = 4 * MiB;
    const swapped = Buffer.concat([base.subarray(half), base.subarray(0, half)]);
    const p = planDelta(oldIx, digestBuffer(swapped).index!);
    checkPlan(p, base, swapped);
    expect(p.fetchedBytes).toBeLessThanOrEqual(3 * max);
  });

  it('coalesces two fetched ranges when the reused run between them is at most gapBytes', () => {
    const edits: Edit[] = [
      { kind: 'rewrite', at: 2 * MiB, length: 64 * KiB },
      { kind: 'rewrite', at: 3 * MiB, length: 64 * KiB },
    ];
    const { data } = applyEdits(base, edits);
    const newIx = digestBuffer(data).index!;
    const apart = planDelta(oldIx, newIx, { gapBytes: 0 });
    const between = apart.ops.find((op, k) => op.kind === 'local' && k > 0 && k < apart.ops.length - 1)!;
    const merged = planDelta(oldIx, newIx, { gapBytes: between.length });
    expect(planDelta(oldIx, newIx, { gapBytes: between.length - 1 }).requests).toBe(2);
    checkPlan(merged, base, data);
    checkPlan(apart, base, data);
    expect(apart.requests).toBe(2);
    expect(merged.requests).toBe(1);
    expect(merged.fetchedBytes).toBeGreaterThan(apart.fetchedBytes);
  });

  it('planFile: no index on either side (a file below the threshold) or nothing reused = a whole-file pull', () => {
    const other = digestBuffer(pseudoRandom(1 * MiB, 77)).index!;
    expect(planFile(null, oldIx)).toBeNull();
    expect(planFile(oldIx, null)).toBeNull();
    expect(planFile(oldIx, other)).toBeNull();
    expect(planFile(oldIx, oldIx)?.reusedBytes).toBe(base.length);
  });
});
