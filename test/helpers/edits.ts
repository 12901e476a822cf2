/** Edits of a file's bytes, for delta tests and the delta bench: what a model update does to a big file. */
import { pseudoRandom } from './bytes.js';

export type Edit =
  | { readonly kind: 'rewrite'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly length: number }
  | { readonly kind: 'append'; readonly length: number }
  | { readonly kind: 'truncate'; readonly length: number };

/** Applies edits in order (offsets are into the buffer as edited so far); returns the new bytes and how many changed. */
export function applyEdits(data: Buffer, edits: readonly Edit[], seed = 99): { data: Buffer; changedBytes: number } {
  let out = data;
  let changed = 0;
  edits.forEach((e, k) => {
    // pseudoRandom's words are steps of one xorshift cycle, and a big base buffer covers a fair part of it (1 GiB: 6 %):
    // a run from another seed can be a stretch of the base itself. XOR with a constant leaves the cycle: no two words in a row match.
    const fresh = (n: number) => {
      const b = pseudoRandom(n, seed + k);
      for (let i = 0; i < b.length; i++) b[i]! ^= 0xa5;
      return b;
    };
    if (e.kind === 'rewrite') {
      out = Buffer.concat([out.subarray(0, e.at), fresh(e.length), out.subarray(e.at + e.length)]);
      changed += e.length;
    } else if (e.kind === 'insert') {
      out = Buffer.concat([out.subarray(0, e.at), fresh(e.length), out.subarray(e.at)]);
      changed += e.length;
    } else if (e.kind === 'append') {
      out = Buffer.concat([out, fresh(e.length)]);
      changed += e.length;
    } else {
      out = out.subarray(0, Math.max(0, out.length - e.length));
    }
  });
  return { data: out, changedBytes: changed };
}
