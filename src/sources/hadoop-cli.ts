import type { Readable } from 'node:stream';
import { abortReason, AuthError, HadoopCliError, MonitorError, NotFoundError } from '../errors.js';
import { run } from '../exec.js';
import { runStreaming, toFailure, type StreamFailure } from '../exec-stream.js';
import type { Logger } from '../log.js';
import { decodeUrlPart, type Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import { joinRemote, safeRelative } from '../paths.js';
import { classifyHadoopStderr, escapeGlob, isLegacyRecursiveLs, parseLsOutput, parseStat, relativeTo, STAT_FORMAT, stderrSummary } from './hadoop-output.js';
import type { IoOptions, OpenOptions, RemoteEntry, Source, SourceDeps, SourceFactory } from './types.js';

export interface HadoopCliOptions {
  /** The `hadoop` executable (PATH lookup when not absolute). */
  readonly bin: string;
  /** `-D fs.default.name=` (e.g. `hdfs://nn:8020`, `afs://host:port`); absent = the client's own config. */
  readonly fsName?: string;
  /** `-D hadoop.job.ugi=` (`user,password` on AFS); secret. */
  readonly ugi?: string;
  /** Absolute remote path of the root. */
  readonly root: string;
  readonly displayUrl: string;
}

/** How a `hadoop fs` run failed, without its argv (which holds the ugi password). */
interface Failed {
  readonly what: string;
  readonly f: StreamFailure;
}

const LEGACY_LS = Symbol('hadoop 1: no -ls -R');
/** Largest `-stat` / `-ls -R` output parsed (a listing of some hundred thousand files). */
const MAX_OUTPUT = 64 * 1024 * 1024;

function noControl(v: string): string | null {
  return /[\0\r\n]/.test(v) ? 'must not contain control characters' : null;
}

function fsUri(v: string): string | null {
  return noControl(v) ?? (/\s/.test(v) ? `not a filesystem URI: ${v}` : null);
}

// An option table reads one flag per line.
// prettier-ignore
const options = [
  { name: 'hadoop-bin', aliases: ['hadoop_bin_path', 'hdfs_bin'], kind: 'string', metavar: 'PATH', group: 'Hadoop CLI', default: 'hadoop', check: noControl, help: 'hadoop client executable for --type hdfs|afs (looked up on PATH unless a path)' },
  { name: 'fs-name', aliases: ['hadoop_host'], kind: 'string', metavar: 'URI', group: 'Hadoop CLI', check: fsUri, help: 'passed as -D fs.default.name= (e.g. hdfs://namenode:8020)' },
  { name: 'fs-ugi', aliases: ['hadoop_ugi'], kind: 'string', metavar: 'USER,PASSWORD', group: 'Hadoop CLI', secret: true, check: noControl, help: 'passed as -D hadoop.job.ugi= (AFS: user,password)' },
] as const satisfies readonly OptionSpec[];

/**
 * `hadoop fs` as Paddle Serving runs it (`--type hdfs|afs --hadoop_bin … --fs_name …
 * --fs_ugi …`), or `--remote hdfs://nn:8020/path`. One JVM per operation: stat is
 * `-stat`, list is `-ls -R`, open streams `-cat` (no offsets, so features.ranges is false).
 */
export const hadoopCli = {
  kind: 'hadoop',
  schemes: ['hdfs', 'afs'],
  options,
  paddle: { types: ['hdfs', 'afs'], url: (type, path) => ({ url: `${type}://${path}`, flag: 'type' }) },
  parse(remote: URL, v: Values<typeof options>): HadoopCliOptions {
    const fsName = v.fsName ?? (remote.host !== '' ? `${remote.protocol}//${remote.host}` : undefined);
    const root = joinRemote('/', decodeUrlPart('remote', remote.pathname));
    const displayUrl = `${fsName ?? `${remote.protocol}//`}${root}`;
    return { bin: v.hadoopBin, root, displayUrl, ...(fsName !== undefined ? { fsName } : {}), ...(v.fsUgi !== null ? { ugi: v.fsUgi } : {}) };
  },
  create(opts: HadoopCliOptions, deps: SourceDeps): Source {
    return new HadoopCliSource(opts, deps);
  },
} satisfies SourceFactory<HadoopCliOptions, typeof options>;

class HadoopCliSource implements Source {
  readonly kind = 'hadoop';
  /** `-ls` prints minutes; `-stat %Y` gives milliseconds. */
  readonly features = { md5: false, etag: false, ranges: false, mtimeResolutionMs: 60_000 } as const;
  readonly displayUrl: string;
  private readonly log: Logger;
  /** `-ls -R` (Hadoop ≥ 2), or `-lsr` once a Hadoop 1 client refused `-R`. */
  private lsRecursive: readonly string[] = ['-ls', '-R'];

  constructor(
    private readonly opts: HadoopCliOptions,
    private readonly deps: SourceDeps,
  ) {
    this.displayUrl = opts.displayUrl;
    this.log = deps.log;
  }

  /** `fs -D fs.default.name=… -D hadoop.job.ugi=… <cmd…>`: the generic options come before the command. */
  private argv(...cmd: string[]): string[] {
    const d: string[] = [];
    if (this.opts.fsName !== undefined) d.push('-D', `fs.default.name=${this.opts.fsName}`);
    if (this.opts.ugi !== undefined) d.push('-D', `hadoop.job.ugi=${this.opts.ugi}`);
    return ['fs', ...d, ...cmd];
  }

  private abs(p: string): string {
    const rel = joinRemote(p).replace(/^\//, '');
    return rel === '' ? this.opts.root : joinRemote(this.opts.root, safeRelative(rel));
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const path = this.abs(p);
    const out = await this.exec('stat', path, o.signal, this.argv('-stat', STAT_FORMAT, escapeGlob(path)));
    if (out === null || out === LEGACY_LS) return null;
    const s = this.parsed('stat', () => parseStat(out));
    return { path: p, size: s.isDirectory ? 0 : s.size, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory };
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    const path = this.abs(dir);
    let out = await this.exec('ls', path, o.signal, this.argv(...this.lsRecursive, escapeGlob(path)));
    if (out === LEGACY_LS) {
      this.log.debug({ event: 'hadoop-lsr' }, 'this hadoop client has no -ls -R; using -lsr');
      this.lsRecursive = ['-lsr'];
      out = await this.exec('ls', path, o.signal, this.argv('-lsr', escapeGlob(path)));
    }
    if (out === null || out === LEGACY_LS) throw new NotFoundError(`no such directory: ${this.displayUrl}${path.slice(this.opts.root.length)}`);
    for (const e of this.parsed('ls', () => parseLsOutput(out))) {
      const rel = this.parsed('ls', () => relativeTo(path, e.path));
      if (rel === null) throw new HadoopCliError(`not a directory: ${path}`, { retryable: false });
      if (!e.isDirectory) yield { path: safeRelative(rel), size: e.size, mtimeMs: e.mtimeMs };
    }
  }

  /** `-cat` streamed: resolves at the first byte (or a clean exit for an empty file), so a missing file rejects here. */
  async open(p: string, o: OpenOptions): Promise<Readable> {
    if (o.start) throw new HadoopCliError('the Hadoop CLI source cannot start mid-file (features.ranges is false)', { retryable: false });
    const path = this.abs(p);
    const child = await runStreaming(this.opts.bin, this.argv('-cat', escapeGlob(path)), {
      idleTimeoutMs: this.deps.timeoutMs,
      signal: o.signal,
      log: this.log,
      mapError: (f) => this.failure({ what: `cat ${path}`, f }, o.signal, true),
    });
    await child.started;
    return child.stdout;
  }

  async close(): Promise<void> {}

  /** Runs one buffered command; stdout, null for "No such file or directory", LEGACY_LS for a Hadoop 1 `-ls -R`. */
  private async exec(cmd: string, path: string, signal: AbortSignal, args: string[]): Promise<string | null | typeof LEGACY_LS> {
    try {
      const r = await run(this.opts.bin, args, { timeoutMs: this.deps.timeoutMs, signal, log: this.log, stdoutLimit: MAX_OUTPUT });
      return r.stdout;
    } catch (err) {
      const f = toFailure(err);
      if (args.includes('-R') && isLegacyRecursiveLs(f.stderr)) return LEGACY_LS;
      const mapped = this.failure({ what: `${cmd} ${path}`, f }, signal, false);
      if (mapped === null) return null;
      throw mapped;
    }
  }

  /**
   * A failed run → MonitorError. The execa error is not kept as `cause`: its message holds
   * the whole argv, ugi password included. Not-found → NotFoundError (open) or null.
   */
  private failure(x: Failed, signal: AbortSignal, notFoundThrows: true): MonitorError;
  private failure(x: Failed, signal: AbortSignal, notFoundThrows: false): MonitorError | null;
  private failure({ what, f }: Failed, signal: AbortSignal, notFoundThrows: boolean): MonitorError | null {
    if (f.isCanceled && signal.aborted) return abortReason(signal);
    if (f.spawnError !== undefined) {
      return new HadoopCliError(`cannot run ${this.opts.bin} (${f.spawnError}); check --hadoop-bin`, { retryable: false });
    }
    const detail = this.redact(stderrSummary(f.stderr));
    const where = `hadoop fs -${what} on ${this.displayUrl}`;
    if (f.timedOut) return new HadoopCliError(`${where}: timed out after ${this.deps.timeoutMs} ms`);
    const kind = classifyHadoopStderr(f.stderr);
    if (kind === 'not-found') return notFoundThrows ? new NotFoundError(`${where}: ${detail}`) : null;
    if (kind === 'auth') return new AuthError(`${where}: access denied: ${detail}; check --fs-ugi`);
    return new HadoopCliError(`${where}: exit code ${f.exitCode ?? '?'}: ${detail}`);
  }

  private parsed<T>(cmd: string, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      throw new HadoopCliError(`hadoop fs -${cmd} on ${this.displayUrl}: ${(err as Error).message}`, { cause: err, retryable: false });
    }
  }

  private redact(text: string): string {
    const secret = this.opts.ugi?.split(',').slice(1).join(',');
    return secret ? text.split(secret).join('***') : text;
  }
}
