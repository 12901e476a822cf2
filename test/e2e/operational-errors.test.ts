/**
 * Operational errors read as such, not as crashes: a --local_path that is a
 * file or that the service user cannot write is bad input (exit 2, one line
 * naming the directory and the access needed, nothing downloaded), so
 * systemd's RestartPreventExitStatus=2 stops instead of looping; a wrong port
 * says so at every retry, at info; no stack traces below --debug.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { freePort } from '../servers/ports.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let dir: string;
let remote: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-operr-'));
  await chmod(dir, 0o755); // the unprivileged run below must reach its files
  remote = path.join(dir, 'remote');
  await publish(remote, 'model', modelFiles(1));
  await chmod(remote, 0o755);
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const src = () => ['--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];
const oneLine = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
};

describe('a --local_path model-monitor cannot use is bad input: exit 2, one line, before any download', () => {
  it('a file where the directory should be', async () => {
    const file = path.join(dir, 'models');
    await writeFile(file, 'not a dir');
    const r = await run(['sync', ...src(), '--local_path', file]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`--local_path: ${file} is not a directory`));
    expect(r.stdout).toBe('');
  });

  it('a path under a file', async () => {
    const file = path.join(dir, 'models');
    await writeFile(file, 'not a dir');
    const r = await run(['watch', ...src(), `--local-path=${file}/sub`]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/--local-path: .*models\/sub cannot be created: .*models is a file/);
  });

  it('a directory the service user may not write (EACCES): names it and the access it needs', async () => {
    const ro = path.join(dir, 'served');
    await mkdir(ro);
    // As root every directory is writable: run as nobody, as a systemd User= would.
    await chmod(ro, 0o555);
    const r = await run(['sync', ...src(), '--local_path', ro], asRoot ? { uid: NOBODY, gid: NOBODY, cwd: dir } : { cwd: dir });
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toContain(`cannot write to ${ro}`);
    expect(line).toMatch(/needs read, write and search access \(rwx\)/);
    expect(line).toMatch(/EACCES/);
    expect(await readdir(ro)).toEqual([]); // nothing staged, nothing downloaded
  });

  it('a missing --local_path whose parent is not writable', async () => {
    const parent = path.join(dir, 'parent');
    await mkdir(parent);
    await chmod(parent, 0o555);
    const r = await run(['sync', ...src(), '--local_path', path.join(parent, 'models')], asRoot ? { uid: NOBODY, gid: NOBODY, cwd: dir } : { cwd: dir });
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain(`cannot write to ${parent} (to create ${path.join(parent, 'models')})`);
  });
});

describe('a wrong port', () => {
  it('logs each retry at info, naming the endpoint; the failure has no stack trace below --debug', async () => {
    const port = await freePort();
    const ftp = [
      '--type=ftp',
      '--ftp_ip=127.0.0.1',
      `--ftp_port=${port}`,
      '--remote_path=/',
      '--remote_model_name=m',
      '--remote_donefile_name=donefile',
      `--local_path=${dir}/local`,
    ];
    const r = await run(['sync', ...ftp, '--retries=2']);
    expect(r.code).toBe(1);
    const retries = r.lines.filter((l) => l.event === 'retry');
    expect(retries.map((l) => [l.level, l.msg.replace(/ in .*$/, '')])).toEqual([
      [30, `cannot reach 127.0.0.1:${port} (ECONNREFUSED); retry 1/2`],
      [30, `cannot reach 127.0.0.1:${port} (ECONNREFUSED); retry 2/2`],
    ]);
    expect(retries[0]!.msg).toMatch(/ in 0\.25-0\.5 s$/);
    const failed = r.lines.find((l) => l.event === 'sync-failed');
    expect(JSON.stringify(failed)).toContain('ECONNREFUSED');
    expect(JSON.stringify(r.lines)).not.toContain('"stack"');

    const debug = await run(['sync', ...ftp, '--retries=0', '--debug']);
    expect(JSON.stringify(debug.lines.find((l) => l.event === 'sync-failed'))).toContain('"stack"');
  });

  it('in the pretty format: one line per event, the reason on the error line, no stack', async () => {
    const port = await freePort();
    const r = await run(
      [
        'sync',
        '--type=ftp',
        '--ftp_ip=127.0.0.1',
        `--ftp_port=${port}`,
        '--remote_path=/',
        '--remote_model_name=m',
        '--remote_donefile_name=d',
        `--local_path=${dir}/local`,
        '--retries=1',
      ],
      {
        env: { MODEL_MONITOR_LOG_FORMAT: 'pretty' },
      },
    );
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    for (const l of lines) expect(l, r.stdout).toMatch(/^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR): \S/);
    expect(lines.some((l) => l.includes(`INFO: cannot reach 127.0.0.1:${port} (ECONNREFUSED); retry 1/1`))).toBe(true);
    expect(lines.at(-1)).toMatch(/ERROR: sync failed.*ECONNREFUSED/);
  });
});
