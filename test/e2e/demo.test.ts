/** `npm run demo`: embedded FTP server + producer + watch; every hot swap printed; Ctrl-C ends it cleanly. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { BIN, ROOT, run, start } from '../helpers/cli.js';
import { waitFor } from '../servers/ports.js';

it('prints each hot swap and stops after N (MODEL_MONITOR_DEMO_SWAPS)', async () => {
  const r = await run(['demo'], { env: { MODEL_MONITOR_DEMO_SWAPS: '2' }, timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/hot swap #1: now serving .* demo model, version 1/);
  expect(r.stdout).toMatch(/hot swap #2: now serving .* demo model, version 2/);
});

/** `20261202T124919Z` → ms since the epoch. */
const labelTime = (v: string) => Date.parse(v.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));

it('the version labels are the publish times: never ahead of the clock (the banner’s period is the real one)', async () => {
  const d = start(['demo']);
  try {
    for (const n of [1, 2]) {
      const l = await d.waitFor((x) => new RegExp(`hot swap #${n}:`).test(x.msg), `hot swap #${n}`, 60_000);
      const label = /now serving (\d{8}T\d{6}Z)/.exec(l.msg)![1]!;
      // The donefile's mtime (whole seconds) is the label: at most the current second.
      expect(labelTime(label)).toBeLessThanOrEqual(Date.now());
    }
    expect(d.stdout()).toMatch(/a new model every 4 s/);
  } finally {
    expect(await d.stop('SIGINT')).toBe(0);
  }
});

it('shows the equivalent model-monitor command, and that command works against the demo’s server', async () => {
  const cwd = await mkdtemp(path.join(tmpdir(), 'mm-demo-cmd-'));
  const d = start(['demo']);
  try {
    await d.waitFor((l) => /hot swap #1/.test(l.msg), 'first hot swap');
    const cmd = /^ {4}(model-monitor watch .*)$/m.exec(d.stdout())?.[1];
    expect(cmd).toBeDefined();
    const args = cmd!.split(' ').slice(1);
    expect(args).toContain('--local_path=./models');
    const r = await run(['sync', ...args.slice(1)], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(cwd, 'models', 'uci_housing_model', '__model__'), 'utf8')).toMatch(/^demo model, version \d+/);
  } finally {
    await d.stop('SIGINT');
    await rm(cwd, { recursive: true, force: true });
  }
});

it('Ctrl-C (SIGINT) stops server, producer and watch; exit 0; the temp dir is removed', async () => {
  const d = start(['demo']);
  await d.waitFor((l) => /hot swap #1/.test(l.msg), 'first hot swap');
  const tmp = /over (\S+)\/remote_path/.exec(d.stdout())?.[1];
  expect(tmp && existsSync(tmp)).toBe(true);
  expect(await d.stop('SIGINT')).toBe(0);
  expect(d.stdout()).toMatch(/stopped after \d+ hot swap/);
  expect(existsSync(tmp!)).toBe(false);
});

it('Ctrl-C under `npm run demo` (SIGINT to the whole process group, npm forwards a second one): npm exits 0', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mm-npm-demo-'));
  // The repo's own script, but its build step skipped (no rebuilding dist/ under other tests) and bin/ made absolute.
  // (`exec` in it matters: npm's /bin/sh is killed by the terminal's SIGINT while it waits for a child.)
  const script = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { demo: string } }).scripts.demo;
  const demo = script.replace('npm run build --silent', 'true').replace('bin/model-monitor.js', BIN);
  expect(demo).not.toContain('build');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'demo-run', private: true, scripts: { demo } }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const npm = spawn('npm', ['run', '--silent', 'demo'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  npm.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  npm.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
  try {
    await waitFor(() => /hot swap #1/.test(out), `first hot swap under npm; output:\n${out}`, 60_000);
    process.kill(-npm.pid!, 'SIGINT'); // what the terminal does on Ctrl-C
    expect(await exited, out).toBe(0);
    expect(out).toMatch(/stopped after \d+ hot swap/);
  } finally {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
    await rm(dir, { recursive: true, force: true });
  }
});
