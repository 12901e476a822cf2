/**
 * confirm: before the swap, the fetched tree must be one published version
 * (invariant 1). The donefile is read again (a new one means the producer
 * published while we pulled), and every file whose read did not name its
 * version (an ETag or mtime matching the listing, see same-version.ts) is
 * checked against one more listing. Any difference is a ModelChangedError: the
 * cycle discards staging and plans again.
 *
 * What no check can see without an md5 manifest: a file rewritten to the same
 * size within the same mtime second (or on a source that gives neither ETag nor
 * mtime), between the listing and the read. A manifest in the donefile closes it.
 */
import { detect, type DetectOptions } from './detect.js';
import { ModelChangedError } from './errors.js';
import type { Logger } from './log.js';
import type { Staged } from './model.js';
import { listModel, modelEntries, type FetchPlan, type PlanOptions } from './plan.js';
import { versionDiff } from './same-version.js';
import type { Source } from './sources/types.js';

export async function confirmOneVersion(
  source: Source,
  p: FetchPlan,
  staged: Staged,
  o: { readonly detect: DetectOptions; readonly plan: Pick<PlanOptions, 'timeoutMs' | 'retries' | 'archive' | 'manifestName'> },
  ctx: { signal: AbortSignal; log: Logger },
): Promise<void> {
  const now = await detect(source, o.detect, ctx);
  if (now?.fingerprint !== p.aspired.fingerprint) {
    throw new ModelChangedError(`the donefile changed while the model was pulled (${now ? 'a newer version was published' : 'it is gone'})`);
  }
  if (p.files.every((f) => f.reuseFrom === undefined && staged.confirmed?.has(f.path))) return;
  const { entries } = await listModel(source, p.aspired, o.plan, ctx);
  const listed = new Map(modelEntries(entries, o.plan).map((e) => [e.path, e]));
  for (const f of p.files) {
    const e = listed.get(f.path);
    if (!e) throw new ModelChangedError(`${f.remote} was removed while the model was pulled`);
    const diff = versionDiff(f, e, source.features.mtimeResolutionMs);
    if (diff) throw new ModelChangedError(`${f.remote} changed while the model was pulled: ${diff}`);
    listed.delete(f.path);
  }
  const [added] = listed.keys();
  if (added !== undefined) throw new ModelChangedError(`${added} appeared in the remote model while it was pulled`);
}
