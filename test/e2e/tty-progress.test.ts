/**
 * The default pretty format on a real terminal: `sync` runs in a tmux pane (a
 * real pseudo-terminal, stdout and stderr both on it) while the FTP server
 * drops the big file mid-pull, so a retry line is logged while the progress
 * bar is drawn. The captured screen must hold whole lines only: one line per
 * event, the bar's final state on a line of its own (files done of the
 * total), no fragment of either inside the other.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { removeRoot, startFtpSrv, type FtpSrvHandle } from '../servers/ftp-srv.js';
import { waitFor } from '../servers/ports.js';

const tmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
if (!tmux) console.warn('tty-progress.test: SKIPPED: tmux is not installed (.ci/run installs it)');

const LOG = /^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR): \S/;
const BAR = /^pulling \S+ \[[=-]{24}\] \d+% \| [\d.]+ \w?i?B\/[\d.]+ \w?i?B \| [\d.]+ \w?i?B\/s \| ETA \S+ \| \d+\/\d+ files$/;

describe.skipIf(!tmux)('progress bar and log lines on one terminal', () => {
  let srv: FtpSrvHandle;
  let local: string;
  const socket = `mm-tty-${randomUUID().slice(0, 8)}`;
  const tm = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  beforeAll(async () => {
    srv = await startFtpSrv();
    await publish(`${srv.root}/models`, 'model', modelFiles(1, { 'big.bin': randomBytes(12 * 1024 * 1024) }));
    local = await mkdtemp(path.join(tmpdir(), 'mm-tty-'));
    await chmod(local, 0o755);
  });
  afterAll(async () => {
    try {
      tm('kill-server');
    } catch {
      /* not running */
    }
    await srv?.stop();
    if (srv) await removeRoot(srv);
    await rm(local, { recursive: true, force: true });
  });

  it('shows whole lines only: each event on one line, the bar on its own, a retry printed above it', async () => {
    srv.dropNextDownload('model/big.bin', 4 * 1024 * 1024);
    const cmd = [
      'env',
      '-u',
      'MODEL_MONITOR_LOG_FORMAT',
      '-u',
      'MODEL_MONITOR_PROGRESS',
      process.execPath,
      BIN,
      'sync',
      `--remote=ftp://127.0.0.1:${srv.port}/models`,
      '--remote_model_name=model',
      '--remote_donefile_name=donefile',
      `--local_path=${local}`,
      '--bwlimit=4M',
      '--concurrency=1',
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    // The pane stays (sleep) after the command, so its screen can be read; kill-server ends both.
    tm('new-session', '-d', '-x', '200', '-y', '50', '-s', 'mm', `${cmd}; echo EXIT=$?; exec sleep 600`);
    const screen = () => tm('capture-pane', '-p', '-J', '-t', 'mm', '-S', '-', '-E', '-');
    await waitFor(() => /^EXIT=\d+$/m.test(screen()), 'the sync in the pane to finish', 90_000);
    const lines = screen()
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean);
    const text = lines.join('\n');
    expect(lines.at(-1), text).toBe('EXIT=0');

    const body = lines.slice(0, -1);
    for (const l of body) expect(LOG.test(l) || BAR.test(l), `a line that is neither a whole log line nor a whole bar:\n${l}\n\n${text}`).toBe(true);
    for (const l of body.filter((x) => LOG.test(x))) expect(l, text).not.toMatch(/\[[=-]{3,}|% \||\/s \| ETA/);
    const bars = body.filter((l) => BAR.test(l));
    expect(bars, text).toHaveLength(1);
    expect(bars[0]).toMatch(/ 100% \| 12\.0 MiB\/12\.0 MiB \| .* \| 4\/4 files$/);

    const at = (re: RegExp) => body.findIndex((l) => re.test(l));
    const change = at(/INFO: donefile changed/);
    const retry = at(/INFO: download model\/big\.bin failed .*; retry 1\/5 in /);
    const bar = at(BAR);
    const served = at(/INFO: now serving /);
    expect(
      [change, retry, bar, served].every((i) => i >= 0),
      text,
    ).toBe(true);
    expect(change < retry && retry < bar && bar < served, text).toBe(true);
  });
});
