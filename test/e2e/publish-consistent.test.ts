/**
 * A producer publishes 20 versions back to back with `model-monitor publish`
 * while a monitor pulls continuously (`watch --interval 0.05`), on file://,
 * vsftpd, s3rver and the WebHDFS test server. Every model the monitor served (an --exec hook prints each
 * one's files and md5s) is exactly one published version, the monitor never
 * fails a cycle (it never found a donefile whose model was incomplete), and a
 * reader checking the remote between publishes always finds the model the
 * donefile names complete.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { underModel } from '../../src/publish/layout.js';
import { readPublished } from '../../src/publish/published.js';
import { run, start } from '../helpers/cli.js';
import { execFingerprint, fingerprint, writeVersion } from '../helpers/publisher.js';
import { startTarget, targetMissing, type Target, type TargetKind } from '../helpers/targets.js';

const PUBLISHES = 20;
const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

/** Reads the donefile and stats every object its manifest names; returns what is missing. */
async function incomplete(t: Target): Promise<string[]> {
  const src = t.source();
  try {
    const pub = await readPublished(src, {
      model: 'model',
      donefile: 'donefile',
      timeoutMs: 20_000,
      retries: 2,
      signal: AbortSignal.timeout(30_000),
      log: silentLogger(),
    });
    if (!pub?.manifest) return [];
    const missing: string[] = [];
    for (const f of pub.manifest.files) {
      const s = await src.stat(underModel('model', f.object), { signal: AbortSignal.timeout(20_000) });
      if (s?.size !== f.size) missing.push(`${pub.manifest.version}: ${f.path}`);
    }
    return missing;
  } finally {
    await src.close();
  }
}

for (const kind of ['file', 'vsftpd', 's3rver', 'webhdfs'] as TargetKind[]) {
  const missing = targetMissing(kind);
  describe.skipIf(missing !== null)(`publish while a monitor pulls: ${kind}`, () => {
    let dir: string;
    let t: Target;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'mm-pubwatch-'));
      t = await startTarget(kind);
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it(`${PUBLISHES} publishes: every served model is one published version, no cycle fails`, async () => {
      const log = path.join(dir, 'served.log');
      const local = path.join(dir, 'local');
      const model = path.join(dir, 'model');
      const env = { ...t.env };
      // --keep-versions large: a monitor that fell behind still finds every version it read the donefile of.
      const pubArgs = [...t.args, ...names, '--keep-versions', '100', '--chunk-threshold', '1M'];
      const published = new Set<string>();
      await writeVersion(model, 0);
      expect((await run(['publish', model, ...pubArgs], { env })).code).toBe(0);
      published.add(fingerprint(await writeVersion(model, 0)));
      const w = start(['watch', ...t.args, ...names, '--local_path', local, '--interval', '0.05', '--exec', execFingerprint(log)], { env });
      try {
        await w.waitFor((l) => l.event === 'updated', 'the first pull', 60_000);
        const holes: string[] = [];
        for (let n = 1; n <= PUBLISHES; n++) {
          published.add(fingerprint(await writeVersion(model, n)));
          const r = await run(['publish', model, ...pubArgs], { env });
          expect(r.code, r.stderr).toBe(0);
          holes.push(...(await incomplete(t)));
        }
        const last = fingerprint(await writeVersion(model, PUBLISHES));
        await waitServed(log, last);
        expect(holes).toEqual([]);
        const served = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
        const mixed = served.filter((s) => !published.has(s));
        expect(mixed).toEqual([]);
        expect(served.length).toBeGreaterThanOrEqual(2);
        expect(w.count((l) => l.event === 'sync-failed')).toBe(0);
      } finally {
        await w.stop();
      }
    }, 300_000);
  });
}

/** Polls the exec log until its last line is `want` (the monitor caught up with the last publish). */
async function waitServed(log: string, want: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const lines = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    if (lines.at(-1) === want) return;
    if (Date.now() > deadline) throw new Error(`the monitor never served the last version; served:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
