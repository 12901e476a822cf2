/**
 * verify: the staged tree against what was promised — sizes always, md5s
 * against the manifest (missing, extra or differing files reject the model)
 * and against content-md5 ETags. Only this stage brands a tree Verified.
 */
import { EmptyModelError, IntegrityError } from './errors.js';
import { brandVerified, type Staged, type Verified } from './model.js';
import type { FetchPlan } from './plan.js';

export interface VerifyOptions {
  readonly mode: 'auto' | 'size' | 'md5' | 'none';
  /** Names inside the model that are ours, not the producer's (the timestamp file). */
  readonly ignore: readonly string[];
}

function checkSizes(plan: FetchPlan, staged: Staged): void {
  const got = new Map(staged.files.map((f) => [f.path, f]));
  for (const f of plan.files) {
    const g = got.get(f.path);
    if (!g) throw new IntegrityError(`${f.path} was listed but is not in the staged model`);
    if (g.size !== f.size) throw new IntegrityError(`${f.path}: ${g.size} bytes staged, ${f.size} listed`);
  }
}

function checkManifest(plan: FetchPlan, staged: Staged, ignore: ReadonlySet<string>): void {
  const m = plan.manifest;
  if (!m) return;
  const got = new Map(staged.files.map((f) => [f.path, f]));
  // A manifest may name the archive itself, or the files it unpacks to.
  if (staged.archive && m.has(staged.archive.path)) {
    if (m.get(staged.archive.path) !== staged.archive.md5) throw new IntegrityError(`${staged.archive.path}: md5 differs from the manifest`);
    return;
  }
  for (const [p, md5] of m) {
    const g = got.get(p);
    if (!g) throw new IntegrityError(`${p} is in the manifest but not in the remote model`);
    if (g.md5 !== undefined && g.md5 !== md5) throw new IntegrityError(`${p}: md5 ${g.md5} differs from the manifest's ${md5}`);
  }
  for (const f of staged.files) {
    if (!m.has(f.path) && !ignore.has(f.path)) throw new IntegrityError(`${f.path} is in the remote model but not in the manifest`);
  }
}

function checkPlannedMd5(plan: FetchPlan, staged: Staged): void {
  const got = new Map(staged.files.map((f) => [f.path, f]));
  for (const f of plan.files) {
    const g = got.get(f.path) ?? (staged.archive?.path === f.path ? staged.archive : undefined);
    if (f.md5 && g?.md5 && g.md5 !== f.md5) throw new IntegrityError(`${f.path}: md5 ${g.md5}, expected ${f.md5}`);
  }
}

export function verify(plan: FetchPlan, staged: Staged, o: VerifyOptions): Verified {
  if (staged.files.length === 0) throw new EmptyModelError('the staged model has no files; refusing an empty model');
  if (o.mode === 'none') return brandVerified(staged);
  if (!plan.archive) checkSizes(plan, staged);
  if (o.mode === 'size') return brandVerified(staged);
  checkManifest(plan, staged, new Set(o.ignore));
  checkPlannedMd5(plan, staged);
  return brandVerified(staged);
}
