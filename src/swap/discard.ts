/**
 * Deleting old model copies in the background, one Discarder per monitor:
 * unlinking a 1 GiB backup takes most of a second, which a swap (and the
 * reload after it) should not wait for. A copy is first taken out of the way
 * at once (one rename into `<dir>.trash/`, on the same filesystem), then
 * removed; settle() waits for what is under way (before exit, and in tests).
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ownDir, refuseLink } from '../paths.js';

export class Discarder {
  private readonly jobs = new Map<string, Promise<void>>();

  /** Renames `p` into `<dir>.trash/` and deletes it in the background; nothing at `p` is fine. */
  async discard(p: string, dir: string): Promise<void> {
    const trash = await ownDir(`${dir}.trash`);
    const to = path.join(trash, `${path.basename(p)}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(p, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.sweep(to);
  }

  /** Deletes `p` in the background. */
  sweep(p: string): void {
    if (this.jobs.has(p)) return;
    const job = rm(p, { recursive: true, force: true })
      .catch(() => {})
      .finally(() => this.jobs.delete(p));
    this.jobs.set(p, job);
  }

  /** Sweeps every entry of `dir` (a trash dir), leaving the dir itself. */
  async sweepEntries(dir: string): Promise<void> {
    await refuseLink(dir);
    for (const n of await readdir(dir).catch(() => [] as string[])) this.sweep(path.join(dir, n));
  }

  /** Waits for every background deletion, those started meanwhile too. */
  async settle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all([...this.jobs.values()]);
  }
}
