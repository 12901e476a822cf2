/** `model-monitor status`: what is served, from which donefile, when, backups kept. */
import type { LocalConfig } from './config.js';
import { joinDisplay } from './options.js';
import { readStatus } from './state.js';
import { createSwap } from './swap/index.js';
import { Discarder } from './swap/discard.js';

/** Where the served model comes from: the flags' remote when given, else what the record says it was pulled from. */
function remoteOf(c: LocalConfig, recorded: string | undefined): string | null {
  if (c.remote?.remoteModel) return joinDisplay(c.remote.displayUrl, c.remote.remoteModel);
  if (recorded) return recorded.replace(/([^:/])\/\/+/g, '$1/'); // records written before joinDisplay have `host//model`
  return c.remote?.displayUrl ?? null;
}

export async function printStatus(c: LocalConfig, out: (s: string) => void): Promise<number> {
  // Reads only: nothing is discarded.
  const swap = createSwap(c.swap, {
    servedPath: c.servedPath,
    workDir: c.workDir,
    name: c.modelName,
    keepBackups: c.keepBackups,
    fsync: false,
    discarder: new Discarder(),
  });
  const [served, backups, status] = await Promise.all([swap.current(), swap.backups(), readStatus(c.workDir, c.modelName)]);
  const doc = {
    servedPath: c.servedPath,
    remote: remoteOf(c, served?.record.remote),
    served: served
      ? {
          version: served.version,
          fingerprint: served.record.fingerprint,
          appliedAt: served.record.appliedAt,
          files: served.record.files.length,
          bytes: served.record.files.reduce((n, f) => n + f.size, 0),
        }
      : null,
    backups: backups.map((b) => ({ version: b.version, appliedAt: b.appliedAt, path: b.path })),
    lastOutcome: status.lastOutcome ?? null,
    lastSuccessAt: status.lastSuccessAt ?? null,
    // the last update's traffic: bytes read from the remote vs taken from the served copy (a delta, --incremental)
    lastUpdate: status.lastUpdate ?? null,
    lastError: status.lastError ?? null,
    rejected: status.rejected ?? null,
    // what `watch` last recorded (it writes on each change, not on every poll): the fleet's view
    remoteNewest: status.remote ?? null,
    staleSince: status.staleSince ?? null,
    stalenessSeconds: status.staleSince ? Math.max(0, Math.round((Date.now() - Date.parse(status.staleSince)) / 1000)) : 0,
  };
  if (c.json) {
    out(JSON.stringify(doc, null, 2) + '\n');
    return 0;
  }
  const lines = [
    `served:    ${doc.servedPath}`,
    `remote:    ${doc.remote ?? '(not recorded; pass --remote to show it)'}`,
    doc.served
      ? `version:   ${doc.served.version} (${doc.served.files} files, ${doc.served.bytes} bytes, applied ${doc.served.appliedAt})\nfrom:      ${doc.served.fingerprint}`
      : 'version:   (nothing served yet)',
    `backups:   ${doc.backups.length ? doc.backups.map((b) => `${b.version} (${b.appliedAt})`).join(', ') : 'none'}`,
    `last sync: ${doc.lastOutcome ?? 'never'}${doc.lastError ? ` — ${doc.lastError.message}` : ''}`,
  ];
  if (doc.lastUpdate)
    lines.push(`traffic:   ${doc.lastUpdate.fetchedBytes} bytes fetched, ${doc.lastUpdate.reusedBytes} reused (update to ${doc.lastUpdate.version})`);
  if (doc.rejected) lines.push(`rejected:  ${doc.rejected.fingerprint} (${doc.rejected.reason})`);
  if (doc.remoteNewest) lines.push(`newest:    ${doc.remoteNewest.version} (seen ${doc.remoteNewest.seenAt})`);
  lines.push(
    `staleness: ${doc.staleSince ? `${doc.stalenessSeconds} s (not confirmed fresh since ${doc.staleSince})` : '0 (serving the newest version seen)'}`,
  );
  out(lines.join('\n') + '\n');
  return 0;
}
