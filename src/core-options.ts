import type { OptionSpec } from './options.js';

const L = 'Local model';
const D = 'Detect and verify';
const W = 'Swap and reload';
const T = 'Transfer';
const O = 'Operations';
const F = 'Fleet';

const MIB = 1024 * 1024;

function fileName(v: string): string | null {
  return v.includes('/') || v === '..' ? `must be a file name inside the model, got "${v}"` : null;
}

function signalName(v: string): string | null {
  return /^(SIG)?[A-Z0-9]+$/i.test(v) ? null : `not a signal name: "${v}"`;
}

function httpUrl(v: string): string | null {
  return /^https?:\/\//.test(v) ? null : `expected an http(s):// URL, got "${v}"`;
}

/**
 * The core's flags: the local side, the pipeline, the operations (the remote's
 * are in remote.ts, each source's beside it). CLI.md is the contract. A flag
 * added here is read, checked and typed (`CoreValues`) with no other change:
 * values.ts only derives what depends on several flags or on the terminal.
 */
// An option table reads one flag per line.
// prettier-ignore
export const coreOptions = [
  { name: 'local-path', kind: 'string', metavar: 'DIR', group: L, default: '.', help: 'directory holding the served model' },
  { name: 'local-model-name', kind: 'string', metavar: 'NAME', group: L, help: 'served model is DIR/NAME (default: the remote model name)' },
  { name: 'local-timestamp-file', aliases: ['local_donefile_name'], kind: 'string', metavar: 'NAME', group: L, default: 'fluid_time_file', check: fileName, help: 'timestamp file touched inside the served model after each swap' },
  { name: 'touch-timestamp', kind: 'bool', group: L, default: true, help: 'touch the timestamp file (--no-touch-timestamp or --no-touch to disable)' },
  { name: 'local-tmp-path', aliases: ['local_tmp_dir'], kind: 'string', metavar: 'NAME', group: L, default: '_serving_monitor_tmp', help: 'staging, backups and state, under --local_path' },
  { name: 'unpacked-filename', kind: 'string', metavar: 'DIR', group: L, help: 'the remote model is a tar / tar.gz that unpacks to DIR' },
  { name: 'max-unpack-ratio', kind: 'int', metavar: 'N', group: L, default: '256', min: 0, max: 1_000_000, help: 'a tar.gz may unpack to at most N times its size (a decompression bomb); 0 = only the free space bounds it' },
  { name: 'interval', kind: 'duration', metavar: 'SECONDS', group: D, default: '10', min: 0.01, help: 'poll period (jittered ±10 %; at most 86400)' },
  { name: 'detect', kind: 'string', group: D, choices: ['timestamp', 'content'], default: 'timestamp', help: 'donefile mtime (Paddle) or content md5' },
  { name: 'verify', kind: 'string', group: D, choices: ['auto', 'size', 'md5', 'none'], default: 'auto', help: 'how a pulled model is checked' },
  { name: 'manifest', kind: 'string', metavar: 'NAME', group: D, help: 'md5sum-format manifest inside the remote model dir' },
  { name: 'validate', kind: 'string', metavar: 'CMD', group: D, help: 'shell command run on the staged model ($MODEL_DIR) before the swap; non-zero rejects it' },
  { name: 'validate-timeout', kind: 'duration', metavar: 'SECONDS', group: D, default: '300', min: 0.1, help: 'deadline for --validate' },
  { name: 'swap', kind: 'string', group: W, choices: ['rename', 'symlink', 'versioned'], default: 'rename', help: 'how the model is put in place' },
  { name: 'keep-backups', kind: 'int', metavar: 'N', group: W, default: '2', min: 0, max: 1000, help: 'backups (or old versions) kept' },
  { name: 'touch', kind: 'list', metavar: 'PATH', group: W, help: 'touch this file too after each swap (repeatable)' },
  { name: 'exec', kind: 'string', metavar: 'CMD', group: W, help: 'run after the swap ($MODEL_DIR, $MODEL_VERSION set)' },
  { name: 'exec-timeout', kind: 'duration', metavar: 'SECONDS', group: W, default: '60', min: 0.1, help: 'deadline for --exec and --http-post' },
  { name: 'signal', kind: 'string', metavar: 'SIG', group: W, check: signalName, help: 'send this signal after the swap (with --pidfile or --pid), e.g. HUP' },
  { name: 'pidfile', kind: 'string', metavar: 'FILE', group: W, help: 'file holding the pid for --signal' },
  { name: 'pid', kind: 'int', metavar: 'N', group: W, min: 1, max: 2 ** 31 - 1, help: 'pid for --signal' },
  { name: 'http-post', kind: 'string', metavar: 'URL', group: W, check: httpUrl, help: 'POST here after the swap; 2xx expected (Triton, TorchServe)' },
  { name: 'rollback-on-reload-failure', kind: 'bool', group: W, default: false, help: 'a failing reload trigger swaps the previous model back' },
  { name: 'fsync', kind: 'bool', group: W, default: false, help: 'flush staged files and dirs before the swap (power-loss safety)' },
  { name: 'verify-on-start', kind: 'bool', group: W, default: false, help: 'hash the served model against its record on start; re-pull on mismatch' },
  { name: 'concurrency', kind: 'int', metavar: 'N', group: T, default: '4', min: 1, max: 256, help: 'parallel transfers' },
  { name: 'part-size', kind: 'bytes', metavar: 'SIZE', group: T, zeroOff: true, min: MIB, help: 'files larger than this are fetched as parallel ranged parts of this size; 0 = whole files only (default: 64M; 0 through a proxy, so that a shared cache can store the files)' },
  { name: 'bwlimit', kind: 'bytes', metavar: 'RATE', group: T, default: '0', zeroOff: true, help: 'bandwidth limit over all streams, bytes/s (50M, 1.5G, 800k); 0 = none' },
  { name: 'data-path', kind: 'string', group: T, choices: ['wire', 'stock'], default: 'wire', help: 'wire: HTTP, WebHDFS datanode, S3 and FTP bytes go socket → file on worker threads (plain http endpoints, no --bwlimit); stock: through the client libraries\' streams' },
  { name: 'incremental', kind: 'bool', group: T, default: false, help: 'reuse files unchanged since the served version' },
  { name: 'timeout', kind: 'duration', metavar: 'SECONDS', group: T, default: '60', min: 0.1, help: 'per-request deadline: connect and answer, a stalled transfer (at most 86400)' },
  { name: 'min-rate', kind: 'bytes', metavar: 'RATE', group: T, default: '1k', zeroOff: true, help: 'a transfer slower than this over a --timeout window is dropped and resumed (bytes/s; 0 = only a full stall)' },
  { name: 'retries', kind: 'int', metavar: 'N', group: T, default: '5', min: 0, max: 100, help: 'retries per remote operation' },
  { name: 'spread', kind: 'duration', metavar: 'SECONDS', group: F, default: '0', min: 0, help: 'wait a random delay up to this long after a donefile change before pulling, so a fleet does not hit the store in the same second' },
  { name: 'config', kind: 'string', metavar: 'FILE', group: O, help: 'YAML or JSON file of flags (keys = flag names)' },
  { name: 'print-config', kind: 'bool', group: O, default: false, help: 'print the effective configuration (secrets masked) and exit' },
  { name: 'max-failures', kind: 'int', metavar: 'N', group: O, min: 1, max: 1_000_000, help: 'watch exits 1 after N consecutive failed cycles' },
  { name: 'metrics-port', kind: 'int', metavar: 'PORT', group: O, min: 0, max: 65535, help: 'serve /healthz, /readyz and /metrics on this port' },
  { name: 'metrics-host', kind: 'string', metavar: 'ADDR', group: O, default: '0.0.0.0', help: 'address for --metrics-port' },
  { name: 'log-level', kind: 'string', group: O, choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', help: 'log level' },
  { name: 'debug', kind: 'bool', group: O, default: false, help: '= --log-level debug' },
  { name: 'log-format', kind: 'string', group: O, choices: ['json', 'pretty'], help: 'json, or pretty (default on a TTY)' },
  { name: 'progress', kind: 'bool', group: O, help: 'a progress bar for pulls (default on a TTY)' },
  { name: 'json', kind: 'bool', group: O, default: false, help: 'status: print JSON' },
] as const satisfies readonly OptionSpec[];
