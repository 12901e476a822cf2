/**
 * `model-monitor kserve-init URI DEST [URI DEST …]`: KServe's custom storage
 * initializer contract (a ClusterStorageContainer's init container is run with
 * the storage URI and the destination dir as its arguments, in pairs when an
 * InferenceService lists several storageUris). URI names the model itself,
 * with no donefile, in any source's URL form (ftp://, s3://, webhdfs://,
 * http(s)://, hdfs://, file://). The pipeline's own pieces do the work: plan,
 * fetch and verify into a staging dir inside DEST, then each top-level entry
 * is renamed into DEST. Exit 0 only when DEST holds the complete model.
 */
import { mkdir, readdir, rename, rm, lstat } from 'node:fs/promises';
import path from 'node:path';
import { checkDiskSpace, runValidate } from './check.js';
import { ConfigError, IntegrityError, NotFoundError, UnsafePathError } from './errors.js';
import { fetchModel } from './fetch.js';
import { dirProblem } from './local-dirs.js';
import type { Logger } from './log.js';
import type { Aspired, FileRecord, Verified } from './model.js';
import { redactUrl, type RawOptions } from './options.js';
import { plan } from './plan.js';
import { buildRemote, wholeFilesOnly, type RemoteChoice } from './remote.js';
import { fetchOptions, type CycleHooks } from './cycle.js';
import { sources } from './sources/index.js';
import type { CoreValues } from './values.js';
import { verify } from './verify.js';

/** Inside DEST while pulling (DEST is often a mount point: a rename from outside it could cross filesystems). */
export const STAGING = '.model-monitor-staging';

export interface KserveTarget {
  readonly uri: string;
  readonly dest: string;
  readonly remote: RemoteChoice;
  /** Through a proxy (and no --part-size): whole-file GETs, which a shared cache can store. */
  readonly wholeFiles: boolean;
}

/** `ftp://h/models/uci` → root `ftp://h/models/`, model `uci`. A trailing slash is allowed. */
export function splitModelUri(uri: string): { root: string; model: string } {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^?#]*)$/i.exec(uri);
  if (!m) throw new ConfigError('', `URI "${redactUrl(uri)}" is not a URL (scheme://host/path/to/model)`);
  const p = m[2]!.replace(/\/+$/, '');
  const cut = p.lastIndexOf('/');
  let model: string;
  try {
    model = decodeURIComponent(p.slice(cut + 1));
  } catch (err) {
    throw new ConfigError('', `URI "${redactUrl(uri)}": bad percent-encoding`, { cause: err });
  }
  if (cut < 0 || !model) throw new ConfigError('', `URI "${redactUrl(uri)}" names no model: it needs a path to the model, scheme://host/path/to/model`);
  return { root: `${m[1]}${p.slice(0, cut)}/`, model };
}

/** The positional arguments as KServe passes them: URI DEST, once or in pairs. Bad input throws ConfigError. */
export function kserveTargets(args: readonly string[], raw: RawOptions): KserveTarget[] {
  if (args.length === 0 || args.length % 2 !== 0) {
    throw new ConfigError('', `kserve-init takes the storage URI and the destination dir (URI DEST, or URI DEST pairs); got ${args.length} argument(s)`);
  }
  const out: KserveTarget[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const { root, model } = splitModelUri(args[i]!);
    const remote = buildRemote({ ...raw, type: undefined, remote: root, 'remote-model-name': model, 'remote-donefile-name': undefined }, sources, {
      names: 'optional',
    });
    out.push({ uri: args[i]!, dest: path.resolve(args[i + 1]!), remote, wholeFiles: wholeFilesOnly(raw, remote) });
  }
  return out;
}

/** Renames every top-level entry of the verified model into DEST, replacing what is there under that name. */
async function moveInto(model: Verified, dest: string): Promise<void> {
  for (const name of await readdir(model.dir)) {
    if (name === STAGING) throw new UnsafePathError(`the model holds an entry named ${STAGING}, which kserve-init uses for staging`);
    const target = path.join(dest, name);
    // kill -9 after the rm: DEST lacks `name` and the run has not exited 0; KServe runs the init
    // container again, which stages the model afresh and replaces every top-level entry again.
    await rm(target, { recursive: true, force: true });
    await rename(path.join(model.dir, name), target);
  }
}

/** Every file the model was verified with is in DEST, at its size: only then exit 0. */
async function assertComplete(dest: string, files: readonly FileRecord[]): Promise<void> {
  for (const f of files) {
    const st = await lstat(path.join(dest, ...f.path.split('/'))).catch(() => null);
    if (!st?.isFile() || st.size !== f.size) throw new IntegrityError(`${f.path} is not complete in ${dest} after the move`);
  }
}

export interface KserveDeps {
  readonly core: CoreValues;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly hooks?: CycleHooks;
}

/** Pulls one URI into its DEST. Throws MonitorErrors; DEST's model is complete when it returns. */
export async function pullInto(t: KserveTarget, d: KserveDeps): Promise<{ files: number; bytes: number }> {
  const { core: c, log } = d;
  const problem = await dirProblem(t.dest, 'the model (KServe DEST)');
  if (problem) throw new ConfigError('', `DEST ${problem.message}`, { cause: problem.cause });
  const stagingRoot = path.join(t.dest, STAGING);
  await mkdir(t.dest, { recursive: true });
  // No donefile says two attempts fetched the same model: each run starts its staging afresh.
  await rm(stagingRoot, { recursive: true, force: true });
  const source = t.remote.openSource({ log, timeoutMs: c.timeoutMs, concurrency: c.concurrency });
  const ctx = { signal: d.signal, log };
  try {
    const aspired: Aspired = {
      version: 'kserve',
      fingerprint: `kserve:${t.remote.displayUrl}${t.remote.remoteModel}`,
      remoteModel: t.remote.remoteModel,
      donefile: '',
    };
    const p = await plan(
      source,
      aspired,
      null,
      {
        manifestName: c.manifest,
        verify: c.verify,
        donefile: '',
        incremental: false,
        timeoutMs: c.timeoutMs,
        retries: c.retries,
        archive: c.unpackedFilename !== null,
      },
      ctx,
    ).catch((err: unknown) => {
      // plan's own words assume a donefile ("the donefile is there but…"): here there is none.
      throw err instanceof NotFoundError ? new NotFoundError(`no model at ${redactUrl(t.uri)}`, { cause: err }) : err;
    });
    d.hooks?.onPlan?.(p);
    await checkDiskSpace(t.dest, p.totalBytes, p.files.length);
    const fo = fetchOptions(c, p, { stagingRoot, servedDir: null, partSize: t.wholeFiles ? 0 : c.partSize, timestampFile: null, hooks: d.hooks });
    const staged = await fetchModel(source, p, fo, ctx).finally(() => d.hooks?.onPhase?.('fetch', 0));
    const verified = verify(p, staged, { mode: c.verify, ignore: [c.manifest ?? ''].filter(Boolean) });
    if (c.validate) await runValidate(c.validate, verified.dir, aspired.version, { timeoutMs: c.validateTimeoutMs, signal: d.signal, log });
    await moveInto(verified, t.dest);
    await rm(stagingRoot, { recursive: true, force: true });
    await assertComplete(t.dest, verified.files);
    return { files: verified.files.length, bytes: verified.files.reduce((n, f) => n + f.size, 0) };
  } catch (err) {
    // A failed run leaves no half-staged tree behind: the next run starts afresh anyway.
    await rm(stagingRoot, { recursive: true, force: true }).catch(() => {});
    throw err;
  } finally {
    await source.close().catch(() => {});
  }
}
