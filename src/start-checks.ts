/**
 * What a monitor checks on start, before any download: the work dir's layout
 * (exit 2 when wrong) and the served copy against its record (invariant 9).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { LocalConfig } from './config.js';
import { ConfigError } from './errors.js';
import type { ServedRecord } from './model.js';
import { linksAmong, sameFilesystem } from './paths.js';

async function md5File(p: string): Promise<string> {
  const h = createHash('md5');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Invariant 9: the served copy still matches its record (sizes; hashes with --verify-on-start). What differs, or null. */
export async function servedIntact(r: ServedRecord, dir: string, hashes: boolean): Promise<string | null> {
  for (const f of r.files) {
    const p = path.join(dir, ...f.path.split('/'));
    const s = await lstat(p).catch(() => null);
    if (!s || s.size !== f.size) return `${f.path}: ${s ? `${s.size} bytes, recorded ${f.size}` : 'missing'}`;
    if (hashes && f.md5 && (await md5File(p)) !== f.md5) return `${f.path}: md5 differs from the record`;
  }
  return null;
}

/**
 * Nothing under the work dir that the tool owns is a symbolic link (everything
 * it writes, empties or deletes there would land in the link's target), and
 * staging is on the served path's filesystem (else the swap's rename fails with
 * EXDEV, or EBUSY on a mount point, after the whole pull).
 */
export async function checkLocalLayout(c: Pick<LocalConfig, 'workDir' | 'modelName' | 'servedPath'>): Promise<void> {
  const links = await linksAmong(c.workDir, `${c.modelName}.`);
  if (links.length > 0) {
    throw new ConfigError('local-tmp-path', `${links[0]} is a symbolic link; model-monitor never writes through a link in its work dir (remove it)`);
  }
  if (!(await sameFilesystem(c.workDir, c.servedPath))) {
    throw new ConfigError(
      'local-tmp-path',
      `${c.workDir} (staging and backups) and ${c.servedPath} (the served model) are on different filesystems ` +
        '(is the served path a mount point?); a swap must be one rename on one filesystem: put both under one mount',
    );
  }
}
