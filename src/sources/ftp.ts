import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { basicFtp } from '../lazy.js';
import { abortReason, AbortedError, ConfigError, NotFoundError, TransientError, UnsafePathError } from '../errors.js';
import { decodeUrlPart, type Values } from '../option-values.js';
import type { OptionSpec } from '../options.js';
import { joinRemote, safeRelative } from '../paths.js';
import { FtpData } from './ftp-data.js';
import { FtpPool, mapFtpError, sizeOf, statPath, type Endpoint, type Lease } from './ftp-pool.js';
import { withMeta, type IoOptions, type OpenOptions, type RemoteEntry, type Source, type SourceDeps, type SourceFactory } from './types.js';
import type { DownloadOptions, DownloadResult, DownloadTarget } from './types.js';

export interface FtpOptions {
  readonly host: string;
  readonly port: number;
  /** Explicit FTPS (AUTH TLS) for `ftps://`. */
  readonly secure: boolean;
  readonly insecureTls: boolean;
  readonly user: string;
  /** From the URL or --ftp-password; absent = read `passwordFile` on first connect, or anonymous. */
  readonly password?: string;
  readonly passwordFile?: string;
  /** Absolute remote root (Paddle's --remote_path). */
  readonly root: string;
}

const ANONYMOUS_PASSWORD = 'anonymous@';
/** Symlinked directories followed at most this deep (a link loop ends here). */
const MAX_DEPTH = 64;

const S = 'Source (Paddle Serving flags)';

const options = [
  { name: 'ftp-host', aliases: ['ftp_ip'], kind: 'string', metavar: 'HOST', group: S, help: 'with --type ftp: FTP server host' },
  { name: 'ftp-port', kind: 'int', metavar: 'PORT', group: S, default: '21', min: 1, max: 65535, help: 'with --type ftp: FTP server port' },
  { name: 'ftp-username', kind: 'string', metavar: 'USER', group: 'FTP', help: "FTP user (the URL's wins); default anonymous" },
  { name: 'ftp-password', kind: 'string', secret: true, metavar: 'PASSWORD', group: 'FTP', help: "FTP password (the URL's wins)" },
  {
    name: 'ftp-password-file',
    kind: 'string',
    metavar: 'FILE',
    group: 'FTP',
    help: 'read the FTP password from FILE (first line) when the first connection opens',
  },
  {
    name: 'ftp-insecure-tls',
    kind: 'bool',
    default: false,
    group: 'FTP',
    help: 'ftps://: accept a self-signed or otherwise untrusted server certificate',
  },
] as const satisfies readonly OptionSpec[];

type FtpValues = Values<typeof options>;

/** `ftp://[user[:pass]@]host[:port]/path` and explicit FTPS `ftps://…`; Paddle's `--type ftp --ftp_host H --ftp_port P`. */
export const ftp = {
  kind: 'ftp',
  schemes: ['ftp', 'ftps'],
  options,
  paddle: {
    types: ['ftp'],
    url(_type, path, v) {
      if (v.ftpHost === null) throw new ConfigError('ftp-host', 'required with --type ftp');
      return { url: `ftp://${v.ftpHost.includes(':') ? `[${v.ftpHost}]` : v.ftpHost}:${v.ftpPort}${path}`, flag: 'ftp-host' };
    },
  },
  parse: parseFtp,
  create(opts: FtpOptions, deps: SourceDeps): Source {
    return new FtpSource(opts, deps);
  },
} satisfies SourceFactory<FtpOptions, typeof options>;

function noControl(flag: string, what: string, s: string | undefined): void {
  if (s !== undefined && /[\r\n\0]/.test(s)) throw new ConfigError(flag, `${what} must not contain CR, LF or NUL`);
}

/** Validates the URL and the FTP flags; no I/O (the password file is read on first connect). */
export function parseFtp(remote: URL, v: FtpValues): FtpOptions {
  const scheme = remote.protocol.replace(/:$/, '');
  if (scheme !== 'ftp' && scheme !== 'ftps') throw new ConfigError('remote', `not an ftp:// or ftps:// URL`);
  const host = remote.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new ConfigError('remote', `${scheme}:// URL needs a host (ftp://host[:port]/path)`);
  const port = remote.port === '' ? 21 : Number(remote.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError('remote', `FTP port must be 1-65535, got ${remote.port}`);
  }
  if (remote.search !== '' || remote.hash !== '') throw new ConfigError('remote', 'FTP URLs take no ?query or #fragment');
  if (v.ftpInsecureTls && scheme !== 'ftps') throw new ConfigError('ftp-insecure-tls', 'only applies to ftps:// URLs');
  const urlUser = remote.username === '' ? undefined : decodeUrlPart('remote', remote.username);
  const urlPass = remote.password === '' ? undefined : decodeUrlPart('remote', remote.password);
  if (v.ftpPassword !== null && v.ftpPasswordFile !== null) {
    throw new ConfigError('ftp-password-file', 'give either --ftp-password or --ftp-password-file, not both');
  }
  const user = urlUser ?? v.ftpUsername ?? 'anonymous';
  const password = urlPass ?? v.ftpPassword ?? undefined;
  noControl(urlUser !== undefined ? 'remote' : 'ftp-username', 'the FTP user', user);
  noControl(urlPass !== undefined ? 'remote' : 'ftp-password', 'the FTP password', password);
  const root = joinRemote('/', decodeUrlPart('remote', remote.pathname)) || '/';
  noControl('remote', 'the remote path', root);
  return {
    host,
    port,
    secure: scheme === 'ftps',
    insecureTls: v.ftpInsecureTls,
    user,
    root,
    ...(password !== undefined ? { password } : {}),
    ...(password === undefined && v.ftpPasswordFile !== null ? { passwordFile: v.ftpPasswordFile } : {}),
  };
}

/** A name from a listing must be one plain path segment. */
export function checkEntryName(name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new UnsafePathError(`refusing FTP listing entry ${JSON.stringify(name)}`);
  }
  return name;
}

/** `host:port` and the user, for error messages (never the password). */
export function ftpEndpoint(opts: FtpOptions): Endpoint {
  return { address: `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`, user: opts.user };
}

/**
 * Opens a client's control connection for `opts`: connect, AUTH TLS for ftps,
 * login with the URL or flag password, else the password file's first line
 * (read at the first connect), else anonymous's. Shared by the source and the
 * publish writer.
 */
export function ftpConnector(opts: FtpOptions): (client: Client) => Promise<void> {
  let filePassword: Promise<string> | undefined;
  const getPassword = (): Promise<string> => {
    const { password, passwordFile } = opts;
    if (password !== undefined || passwordFile === undefined) return Promise.resolve(password ?? ANONYMOUS_PASSWORD);
    filePassword ??= readFile(passwordFile, 'utf8').then(
      (text) => text.split(/\r?\n/)[0] ?? '',
      (err: unknown) => {
        filePassword = undefined;
        throw new ConfigError('ftp-password-file', `cannot read ${passwordFile}`, { cause: err });
      },
    );
    return filePassword;
  };
  return async (client) => {
    const { host, port, secure, insecureTls, user } = opts;
    const password = await getPassword();
    const tls = { rejectUnauthorized: !insecureTls, ...(isIP(host) ? {} : { servername: host }) };
    // access(): connect, AUTH TLS for ftps, OPTS UTF8 ON, USER/PASS, TYPE I, FEAT (MLSD when MLST), PBSZ/PROT P.
    await client.access({ host, port, user, password, secure, ...(secure ? { secureOptions: tls } : {}) });
  };
}

class FtpSource implements Source {
  readonly kind = 'ftp';
  readonly features = { md5: false, etag: false, ranges: true, mtimeResolutionMs: 1000 } as const;
  readonly displayUrl: string;
  private readonly pool: FtpPool;
  private readonly endpoint: Endpoint;
  /** The wire engine's data path; absent = open() only (--data-path stock, or ftps://: TLS data connections stay basic-ftp's). */
  readonly download?: (p: string, t: DownloadTarget, o: DownloadOptions) => Promise<DownloadResult | null>;

  constructor(
    private readonly opts: FtpOptions,
    deps: SourceDeps,
  ) {
    this.endpoint = ftpEndpoint(opts);
    const who = opts.user === 'anonymous' ? '' : `${encodeURIComponent(opts.user)}@`;
    const root = opts.root === '/' ? '' : encodeURI(opts.root);
    this.displayUrl = `${opts.secure ? 'ftps' : 'ftp'}://${who}${this.endpoint.address}${root}`;
    this.pool = new FtpPool({
      max: Math.max(1, deps.concurrency),
      timeoutMs: deps.timeoutMs,
      endpoint: this.endpoint,
      log: deps.log,
      connect: ftpConnector(opts),
    });
    if (deps.wire && !opts.secure) {
      const data = new FtpData({ pool: this.pool, wire: deps.wire, endpoint: this.endpoint, timeoutMs: deps.timeoutMs });
      // A ranged part is not for the wire path (null: the caller reads it through open()): FTP has
      // no end offset, and the raw job reads to EOF.
      this.download = async (p, t, o) => (t.part ? null : data.download(this.remote(p), t, o));
    }
  }

  /** `p` (relative to the root, untrusted) → absolute remote path. */
  private remote(p: string): string {
    const rel = joinRemote(p).replace(/^\//, '');
    return rel === '' ? this.opts.root : joinRemote(this.opts.root, safeRelative(rel));
  }

  async stat(p: string, o: IoOptions): Promise<RemoteEntry | null> {
    const e = await this.statAbs(this.remote(p), o.signal);
    return e && { ...e, path: p };
  }

  private statAbs(abs: string, signal: AbortSignal): Promise<RemoteEntry | null> {
    return this.pool
      .run(`stat ${abs}`, signal, (lease) => statPath(lease, abs))
      .catch((err: unknown) => {
        if (err instanceof NotFoundError) return null;
        throw err;
      });
  }

  async *list(dir: string, o: IoOptions): AsyncIterable<RemoteEntry> {
    yield* this.walk(this.remote(dir), '', o.signal, 0);
  }

  private async *walk(abs: string, rel: string, signal: AbortSignal, depth: number): AsyncIterable<RemoteEntry> {
    // The listing is read whole and the client released before yielding: the consumer may open files meanwhile.
    const entries = await this.pool.run(`list ${abs}`, signal, async ({ client }) => {
      await client.cd(abs); // 550 for an absent dir, where LIST may answer an empty listing
      return client.list(); // MLSD when FEAT has MLST, else LIST -a / LIST with basic-ftp's parsers
    });
    for (const e of entries) {
      if (signal.aborted) throw abortReason(signal);
      const name = checkEntryName(e.name);
      const childAbs = joinRemote(abs, name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      // A symlink counts as what it points at; a dangling one has nothing to fetch and is skipped.
      const target = e.type === basicFtp().FileType.SymbolicLink ? await this.statAbs(childAbs, signal) : undefined;
      const isDir = target ? target.isDirectory === true : e.type === basicFtp().FileType.Directory;
      if (isDir && depth >= MAX_DEPTH) throw new UnsafePathError(`nested deeper than ${MAX_DEPTH} dirs: ${childAbs}`);
      if (isDir) yield* this.walk(childAbs, childRel, signal, depth + 1);
      else if (target) yield entry(safeRelative(childRel), target.size, target.mtimeMs);
      else if (e.type === basicFtp().FileType.File) yield entry(safeRelative(childRel), e.size, e.modifiedAt?.getTime());
    }
  }

  async open(p: string, o: OpenOptions): Promise<Readable> {
    const abs = this.remote(p);
    const what = `download ${abs}`;
    // SIZE first: an absent file is a NotFoundError from open() itself, and the size
    // tells a transfer cut short (some servers still answer 226) from a complete one.
    const { lease, result: size } = await this.pool.checkout(what, o.signal, (l) => sizeOf(l.client, abs));
    const rest = size === undefined ? 0 : Math.max(0, size - (o.start ?? 0));
    // A range that reaches the end of the file is read as a whole transfer (the connection is kept).
    const limit = o.length !== undefined && o.length < rest ? o.length : undefined;
    const out = this.transfer(lease, what, abs, limit ?? rest, limit !== undefined, o);
    return size === undefined ? out : withMeta(out, { size });
  }

  /**
   * RETR (after REST) into a PassThrough; the lease is held until the transfer ends, then
   * dropped on error. A ranged read (`o.length`) ends the stream after its bytes and drops
   * the connection: FTP has no end offset, and ABOR is answered too unevenly to reuse it.
   */
  private transfer(lease: Lease, what: string, abs: string, want: number, ranged: boolean, o: OpenOptions): Readable {
    const { client } = lease;
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    let done = false;
    let cut = false;
    const stop = (err: Error) => done || client.ftp.closeWithError(err);
    const sink = forwardTo(out, ranged ? want : Infinity, () => {
      cut = true;
      out.end();
      stop(new AbortedError(`${what}: ranged read complete`));
    });
    const onAbort = () => stop(abortReason(o.signal));
    const onReaderGone = () => stop(new AbortedError(`${what}: the reader closed the stream`));
    const settle = () => {
      done = true;
      o.signal.removeEventListener('abort', onAbort);
      out.off('close', onReaderGone);
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    out.once('close', onReaderGone);
    client.downloadTo(sink.writable, abs, o.start ?? 0).then(
      () => {
        settle();
        lease.release(cut);
        if (cut) return;
        if (sink.bytes() >= want) out.end();
        else out.destroy(new TransientError(`${what}: transfer ended after ${sink.bytes()} of ${want} bytes`));
      },
      (err: unknown) => {
        settle();
        // A failed transfer may still owe a late reply on the control connection: never reuse it.
        const lost = client.closed || !(err instanceof basicFtp().FTPError);
        lease.release(true);
        if (!cut) out.destroy(mapFtpError(err, what, this.endpoint, { signal: o.signal, lost }));
      },
    );
    if (o.signal.aborted) onAbort();
    return out;
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}

/** `mtimeMs` from MLSD's `modify` fact; a LIST line's date is too coarse to use. */
function entry(path: string, size: number, mtimeMs: number | undefined): RemoteEntry {
  return { path, size, ...(mtimeMs !== undefined && !Number.isNaN(mtimeMs) ? { mtimeMs } : {}) };
}

/**
 * A Writable for basic-ftp that forwards into `out` with backpressure but never
 * ends it: basic-ftp ends its destination even after a failed transfer, and a
 * cleanly ended stream would pass a truncated file off as complete.
 */
function forwardTo(out: PassThrough, limit: number, onLimit: () => void): { writable: Writable; bytes: () => number } {
  let bytes = 0;
  const writable = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (bytes >= limit) return cb();
      if (bytes + chunk.length >= limit) {
        out.write(chunk.subarray(0, limit - bytes));
        bytes = limit;
        onLimit();
        return cb();
      }
      bytes += chunk.length;
      if (out.write(chunk)) return cb();
      const onDrain = () => {
        out.off('close', onClose);
        cb();
      };
      const onClose = () => {
        out.off('drain', onDrain);
        cb(new AbortedError('download stream closed by its reader'));
      };
      out.once('drain', onDrain);
      out.once('close', onClose);
    },
  });
  return { writable, bytes: () => bytes };
}
