/**
 * e2e: the files in examples/ work as shipped. The systemd unit passes
 * `systemd-analyze verify` (and scores OK on `security`), the Kubernetes Pod
 * parses and names only flags and MODEL_MONITOR_* variables the CLI knows,
 * and the config file holds only known keys.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { main } from '../../src/cli.js';
import { aliasMap, allOptions, readConfigFile } from '../../src/config.js';
import { envName, kebab } from '../../src/options.js';
import { sources } from '../../src/sources/index.js';
import { ROOT } from '../helpers/cli.js';

const exec = promisify(execFile);
const EXAMPLES = path.join(ROOT, 'examples');
const specs = allOptions();
const aliases = aliasMap(specs);
const ftpRegistered = sources.some((s) => s.schemes.includes('ftp'));

/** `--local_path=/x` → null when the CLI accepts the flag, else the flag. */
function unknownFlag(token: string): string | null {
  const name = kebab(token.replace(/^--/, '').split('=')[0]!);
  if (aliases.has(name) || name === 'help' || name === 'version') return null;
  const neg = name.startsWith('no-') ? aliases.get(name.slice(3)) : undefined;
  if (neg && specs.find((s) => s.name === neg)?.kind === 'bool') return null;
  return token;
}

const flagsIn = (s: string): string[] => [...s.matchAll(/(?:^|\s)(--[A-Za-z][\w-]*(?:=\S*)?)/g)].map((m) => m[1]!);
const envNames = new Set(specs.map((s) => envName(s.name)));
/** MODEL_MONITOR_* names no option reads (a source's options exist only once it is in src/sources/index.ts). */
const unknownEnv = (names: Iterable<string>) =>
  [...new Set(names)].filter((n) => n.startsWith('MODEL_MONITOR_') && !envNames.has(n)).map((n) => `${n}: no such option in this build`);

async function hasSystemdAnalyze(): Promise<boolean> {
  return exec('systemd-analyze', ['--version']).then(
    () => true,
    () => false,
  );
}
const systemd = await hasSystemdAnalyze();
if (!systemd) console.warn('examples.test: SKIPPING the systemd unit checks: systemd-analyze is not installed (run .ci/install-systemd.sh)');

describe('examples/model-monitor.service', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mm-systemd-'));
    if (systemd) await fakeRoot();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A throwaway root: the unit, stubs at the unit's binaries, and the distribution's own units (targets). */
  async function fakeRoot(): Promise<void> {
    await mkdir(path.join(root, 'usr/bin'), { recursive: true });
    await symlink('usr/bin', path.join(root, 'bin')).catch(() => {});
    for (const bin of ['model-monitor', 'kill']) {
      await writeFile(path.join(root, 'usr/bin', bin), '#!/bin/sh\nexit 0\n');
      await chmod(path.join(root, 'usr/bin', bin), 0o755);
    }
    await mkdir(path.join(root, 'etc/systemd/system'), { recursive: true });
    await cp(path.join(EXAMPLES, 'model-monitor.service'), path.join(root, 'etc/systemd/system/model-monitor.service'));
    await mkdir(path.join(root, 'usr/lib/systemd'), { recursive: true });
    await cp('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  }

  it.skipIf(!systemd)('passes systemd-analyze verify with no warnings', async () => {
    const r = await exec('systemd-analyze', ['verify', '--man=no', `--root=${root}`, '/etc/systemd/system/model-monitor.service']).catch(
      (err: { stdout: string; stderr: string; code: number }) => err,
    );
    expect(`${r.stdout}${r.stderr}`).toBe('');
  });

  it.skipIf(!systemd)('is hardened: systemd-analyze security scores it 3.0 or better', async () => {
    const args = ['security', '--offline=true', '--man=no', `--root=${root}`, '--threshold=30', 'model-monitor.service'];
    const r = await exec('systemd-analyze', args).catch((err: { stdout: string; stderr: string; code: number }) => err);
    const out = `${r.stdout}\n${r.stderr}`;
    if (/unrecognized option|unknown option/i.test(out)) {
      console.warn(`examples.test: systemd-analyze here has no offline security review; skipped: ${out.trim()}`);
      return;
    }
    expect('code' in r ? r.code : 0, out).toBe(0);
    expect(out).toMatch(/Overall exposure level for model-monitor\.service: [0-2]\.\d|3\.0/);
  });

  it('declares what the issue asks for', async () => {
    const unit = await readFile(path.join(EXAMPLES, 'model-monitor.service'), 'utf8');
    for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ProtectHome=yes']) {
      expect(unit).toMatch(new RegExp(`^${line}$`, 'm'));
    }
    expect(unit).toMatch(/^ReadWritePaths=\/srv\/serving\/models$/m);
    expect(unit).toMatch(/^EnvironmentFile=-?\/etc\/model-monitor\/model-monitor\.env$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/model-monitor watch /m);
    expect(unit).toContain('--local_path /srv/serving/models');
  });

  it('names only flags and MODEL_MONITOR_* variables the CLI accepts (unit and env file)', async () => {
    const unit = (await readFile(path.join(EXAMPLES, 'model-monitor.service'), 'utf8')).replace(/\\\n/g, ' ');
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='))!;
    expect(flagsIn(exec).length).toBeGreaterThan(3);
    expect(flagsIn(exec).map(unknownFlag).filter(Boolean)).toEqual([]);
    const env = await readFile(path.join(EXAMPLES, 'model-monitor.env'), 'utf8');
    const names = [...`${unit}\n${env}`.matchAll(/\bMODEL_MONITOR_[A-Z0-9_]+/g)].map((m) => m[0]);
    expect(names).toContain('MODEL_MONITOR_FTP_PASSWORD');
    expect(unknownEnv(names)).toEqual([]);
  });
});

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  ports?: { name?: string; containerPort: number }[];
}
interface Pod {
  kind: string;
  spec: { initContainers: Container[]; containers: Container[]; volumes: { name: string; emptyDir?: object }[] };
}

describe('examples/k8s-sidecar.yaml', () => {
  let pod: Pod;
  let monitors: Container[];
  beforeAll(async () => {
    pod = parseYaml(await readFile(path.join(EXAMPLES, 'k8s-sidecar.yaml'), 'utf8')) as Pod;
    monitors = [...pod.spec.initContainers, ...pod.spec.containers].filter((c) => c.command?.[0] === 'model-monitor');
  });

  it('is a Pod with the engine, a model-monitor sidecar and an init container running sync, sharing an emptyDir', () => {
    expect(pod.kind).toBe('Pod');
    const vol = pod.spec.volumes.find((v) => v.emptyDir)!;
    expect(vol).toBeDefined();
    expect(pod.spec.initContainers.map((c) => c.args?.[0])).toEqual(['sync']);
    expect(pod.spec.containers).toHaveLength(2);
    const sidecar = pod.spec.containers.find((c) => c.command?.[0] === 'model-monitor')!;
    expect(sidecar.args?.[0]).toBe('watch');
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
      expect(c.volumeMounts?.map((m) => m.name), c.name).toContain(vol.name);
    }
  });

  it('names only flags the CLI accepts, in every container running model-monitor', () => {
    expect(monitors).toHaveLength(2);
    for (const c of monitors) {
      const flags = [...(c.command ?? []), ...(c.args ?? [])].flatMap(flagsIn);
      expect(flags.length, c.name).toBeGreaterThan(3);
      expect(flags.map(unknownFlag).filter(Boolean), c.name).toEqual([]);
    }
  });

  it('sets only MODEL_MONITOR_* variables that map to an option, the password from a Secret', () => {
    for (const c of monitors) {
      const env = c.env ?? [];
      expect(unknownEnv(env.map((e) => e.name)), c.name).toEqual([]);
      const pw = env.find((e) => e.name === 'MODEL_MONITOR_FTP_PASSWORD');
      expect(pw?.valueFrom?.secretKeyRef?.name, c.name).toBeTruthy();
      expect(pw?.value).toBeUndefined();
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the --metrics-port', () => {
    const sidecar = pod.spec.containers.find((c) => c.args?.[0] === 'watch')!;
    const port = Number(/--metrics-port[= ](\d+)/.exec((sidecar.args ?? []).join(' '))?.[1]);
    expect(port).toBe(9090);
    const resolve = (p: number | string | undefined) => (typeof p === 'number' ? p : sidecar.ports?.find((x) => x.name === p)?.containerPort);
    expect(sidecar.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(resolve(sidecar.livenessProbe?.httpGet?.port)).toBe(port);
    expect(sidecar.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(resolve(sidecar.readinessProbe?.httpGet?.port)).toBe(port);
  });

  it.skipIf(!ftpRegistered)('each model-monitor container’s command line is a valid config (--print-config)', async () => {
    for (const c of monitors) {
      let out = '';
      let err = '';
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? 'from-secret']));
      const code = await main(['node', ...(c.command ?? []), ...(c.args ?? []), '--print-config'], { out: (s) => (out += s), err: (s) => (err += s), env });
      expect({ code, err }, c.name).toEqual({ code: 0, err: '' });
      expect(out).not.toContain('from-secret');
    }
  });
});

describe('examples/config.yaml', () => {
  it('holds only known keys', () => {
    const raw = readConfigFile(path.join(EXAMPLES, 'config.yaml'), specs);
    expect(raw).toMatchObject({ type: 'ftp', 'ftp-host': '127.0.0.1', 'local-tmp-path': '_serving_monitor_tmp' });
  });

  it.skipIf(!ftpRegistered)('is a valid config as a whole (--print-config)', async () => {
    let out = '';
    let err = '';
    const code = await main(['node', 'model-monitor', 'sync', '--config', path.join(EXAMPLES, 'config.yaml'), '--print-config'], {
      out: (s) => (out += s),
      err: (s) => (err += s),
      env: {},
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toMatchObject({ 'unpacked-filename': 'uci_housing_model', 'metrics-port': '9090' });
  });
});
