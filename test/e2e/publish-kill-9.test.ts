/**
 * kill -9 of `publish` at random moments, on file://, vsftpd and s3rver: each
 * time, what is published afterwards is the previous version, whole, with its
 * donefile unchanged, or the new version, whole; a fresh `sync` serves exactly
 * that version. The next clean publish leaves nothing behind that its retained
 * versions do not need.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { layout } from '../../src/publish/layout.js';
import { readManifest, readPublished } from '../../src/publish/published.js';
import type { Source } from '../../src/sources/types.js';
import { MiB } from '../helpers/bytes.js';
import { run, start } from '../helpers/cli.js';
import { fingerprint, versionFiles, writeVersion } from '../helpers/publisher.js';
import { readTree, md5 } from '../helpers/producer.js';
import { startTarget, targetMissing, type Target, type TargetKind } from '../helpers/targets.js';

const KILLS = 8;
const names = ['--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const ro = () => ({ model: 'model', donefile: 'donefile', timeoutMs: 20_000, retries: 2, signal: AbortSignal.timeout(30_000), log: silentLogger() });

async function donefileText(src: Source): Promise<string | null> {
  return (await readPublished(src, ro()))?.text ?? null;
}

/** A served tree's fingerprint, as fingerprint() prints a version's. */
async function servedFingerprint(dir: string): Promise<string> {
  const tree = await readTree(dir);
  delete tree['fluid_time_file'];
  const bin = await readFile(path.join(dir, 'embedding.bin'));
  return Object.entries({ ...tree, 'embedding.bin': bin })
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([p, d]) => `${md5(d)} ${p}`)
    .join(';');
}

for (const kind of ['file', 'vsftpd', 's3rver'] as TargetKind[]) {
  const missing = targetMissing(kind);
  describe.skipIf(missing !== null)(`kill -9 of publish: ${kind}`, () => {
    let dir: string;
    let t: Target;
    let src: Source;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'mm-pubkill-'));
      t = await startTarget(kind);
      src = t.source();
    }, 120_000);
    afterAll(async () => {
      await src?.close();
      await t?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it(`${KILLS} kills at random moments: the previous version or the new one, whole`, async () => {
      const model = path.join(dir, 'model');
      const args = [...t.args, ...names, '--keep-versions', '2'];
      const size = 12 * MiB; // above the 8 MiB threshold: a chunk index too
      await writeVersion(model, 1, size);
      const t0 = performance.now();
      expect((await run(['publish', model, ...args], { env: t.env })).code).toBe(0);
      const full = performance.now() - t0;
      let committed = 1;
      const tally = { previous: 0, next: 0 };
      for (let k = 2; k <= KILLS + 1; k++) {
        const before = await donefileText(src);
        await writeVersion(model, k, size);
        const p = start(['publish', model, ...args], { env: t.env });
        await new Promise((r) => setTimeout(r, Math.random() * full * 1.1)); // the fault's moment, not a sync
        p.child.kill('SIGKILL');
        await p.exited;
        const after = await donefileText(src);
        const local = path.join(dir, `local-${k}`);
        const r = await run(['sync', ...t.args, ...names, '--local_path', local], { env: t.env });
        expect(r.code, `sync after kill ${k}: ${r.stderr}`).toBe(0);
        const served = await servedFingerprint(path.join(local, 'model'));
        if (after === before) {
          tally.previous++;
          expect(served).toBe(fingerprint(versionFiles(committed, size)));
        } else {
          tally.next++;
          committed = k;
          expect(served).toBe(fingerprint(versionFiles(k, size)));
        }
        await rm(local, { recursive: true, force: true });
      }
      console.log(`${kind}: ${tally.previous} kills left the previous version, ${tally.next} the new one (full publish ${Math.round(full)} ms)`);
      expect(tally.previous + tally.next).toBe(KILLS);

      // A clean publish collects what the killed runs left: only what the 2 retained versions name is left.
      expect((await run(['publish', model, ...args], { env: t.env })).code).toBe(0);
      const pub = (await readPublished(src, ro()))!;
      const prev = await readManifest(src, pub.manifest!.previous!, ro());
      const keep = new Set(
        [pub.manifest!, prev].flatMap((m) => [layout.manifest(m.version), ...m.files.flatMap((f) => [f.object, ...(f.index ? [f.index.object] : [])])]),
      );
      const left: string[] = [];
      for await (const e of src.list('model', { signal: AbortSignal.timeout(30_000) })) left.push(e.path);
      expect(left.filter((p) => !keep.has(p))).toEqual([]);
    }, 300_000);
  });
}
