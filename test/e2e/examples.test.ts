/**
 * e2e: the files in examples/ work as shipped. The systemd unit passes
 * `systemd-analyze verify` (and scores OK on `security`), the Kubernetes Pod
 * parses and names only flags and MODEL_MONITOR_* variables the CLI knows,
 * and the config file holds only known keys.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { main } from '../../src/cli.js';
import { aliasMap, allOptions, readConfigFile } from '../../src/config.js';
import { envName, kebab } from '../../src/options.js';
import { sources } from '../../src/sources/index.js';
import { ROOT, run } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree } from '../helpers/producer.js';
import { removeRoot, startFtpSrv, type FtpSrvHandle } from '../servers/ftp-srv.js';

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

  it('its install notes create the served dir ReadWritePaths= needs, owned by User=', async () => {
    const unit = await readFile(path.join(EXAMPLES, 'model-monitor.service'), 'utf8');
    const rw = /^ReadWritePaths=(\S+)$/m.exec(unit)![1]!;
    const user = /^User=(\S+)$/m.exec(unit)![1]!;
    expect(unit).toMatch(new RegExp(`^#\\s+install -d -o ${user} -g ${user} ${rw}\\b`, 'm'));
  });

  it('says what an empty CapabilityBoundingSet= means for --signal', async () => {
    const unit = await readFile(path.join(EXAMPLES, 'model-monitor.service'), 'utf8');
    const before = unit.slice(0, unit.indexOf('\nCapabilityBoundingSet=\n'));
    expect(before.split('\n').slice(-3).join(' ')).toMatch(/--signal.*same user.*CAP_KILL/);
  });
});

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  restartPolicy?: string;
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  startupProbe?: { httpGet?: { path: string; port: number | string }; periodSeconds?: number; failureThreshold?: number };
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
      expect(
        c.volumeMounts?.map((m) => m.name),
        c.name,
      ).toContain(vol.name);
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

/** The port a probe names (by number, or by the container's port name). */
const probePort = (c: Container, p: number | string | undefined) => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
const metricsPort = (c: Container) => Number(/--metrics-port[= ](\d+)/.exec((c.args ?? []).join(' '))?.[1]);

describe('examples/k8s-native-sidecar.yaml', () => {
  let pod: Pod;
  let sidecar: Container;
  beforeAll(async () => {
    pod = parseYaml(await readFile(path.join(EXAMPLES, 'k8s-native-sidecar.yaml'), 'utf8')) as Pod;
    sidecar = pod.spec.initContainers.find((c) => c.command?.[0] === 'model-monitor')!;
  });

  it('runs watch as a native sidecar: an init container with restartPolicy Always, before the engine', () => {
    expect(pod.kind).toBe('Pod');
    expect(sidecar).toBeDefined();
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.args?.[0]).toBe('watch');
    expect(pod.spec.initContainers.filter((c) => c.restartPolicy !== 'Always')).toEqual([]); // no run-to-completion sync needed
    expect(pod.spec.containers.map((c) => c.command?.[0])).not.toContain('model-monitor');
    const vol = pod.spec.volumes.find((v) => v.emptyDir)!;
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers])
      expect(
        c.volumeMounts?.map((m) => m.name),
        c.name,
      ).toContain(vol.name);
  });

  it('holds the engine back with a startupProbe on /readyz (a model is served), and probes /healthz and /readyz after', () => {
    const port = metricsPort(sidecar);
    expect(port).toBe(9090);
    expect(sidecar.startupProbe?.httpGet?.path).toBe('/readyz');
    expect(probePort(sidecar, sidecar.startupProbe?.httpGet?.port)).toBe(port);
    // A first pull gets minutes, not the default 3 × 10 s.
    expect((sidecar.startupProbe?.periodSeconds ?? 10) * (sidecar.startupProbe?.failureThreshold ?? 3)).toBeGreaterThanOrEqual(120);
    expect(sidecar.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(sidecar.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(probePort(sidecar, sidecar.livenessProbe?.httpGet?.port)).toBe(port);
  });

  it('names only flags and MODEL_MONITOR_* variables the CLI accepts; the password from a Secret; a valid config', async () => {
    const flags = (sidecar.args ?? []).flatMap(flagsIn);
    expect(flags.map(unknownFlag).filter(Boolean)).toEqual([]);
    expect(unknownEnv((sidecar.env ?? []).map((e) => e.name))).toEqual([]);
    expect(sidecar.env?.find((e) => e.name === 'MODEL_MONITOR_FTP_PASSWORD')?.valueFrom?.secretKeyRef?.name).toBeTruthy();
    if (!ftpRegistered) return;
    let err = '';
    const env = Object.fromEntries((sidecar.env ?? []).map((e) => [e.name, e.value ?? 'from-secret']));
    const code = await main(['node', ...(sidecar.command ?? []), ...(sidecar.args ?? []), '--print-config'], { out: () => {}, err: (x) => (err += x), env });
    expect({ code, err }).toEqual({ code: 0, err: '' });
  });

  it('the Paddle Serving engine in both Pod examples runs with hot reloading on, and says how', async () => {
    for (const f of ['k8s-native-sidecar.yaml', 'k8s-sidecar.yaml']) {
      const text = await readFile(path.join(EXAMPLES, f), 'utf8');
      const engine = text.slice(text.indexOf('- name: serving'));
      expect(engine, f).toMatch(/paddle_serving_server\.serve/);
      expect(engine, f).toMatch(/-reload_interval_s/);
      expect(engine, f).toMatch(/fluid_time_file/);
    }
  });
});

interface StorageContainer {
  kind: string;
  spec: { container: Container & { securityContext?: { readOnlyRootFilesystem?: boolean } }; supportedUriFormats: { prefix?: string; regex?: string }[] };
}
interface InferenceService {
  kind: string;
  spec: { predictor: { model: { storageUri: string } } };
}

/** KServe's own test: ClusterStorageContainerSpec.IsStorageUriSupported (prefix, or regex). */
const claims = (sc: StorageContainer, uri: string) =>
  sc.spec.supportedUriFormats.some((f) => (f.prefix ? uri.startsWith(f.prefix) : f.regex ? new RegExp(f.regex).test(uri) : false));

describe('examples/kserve-storage-container.yaml', () => {
  let sc: StorageContainer;
  let isvc: InferenceService;
  let srv: FtpSrvHandle;
  let dir: string;
  beforeAll(async () => {
    const docs = parseAllDocuments(await readFile(path.join(EXAMPLES, 'kserve-storage-container.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string });
    sc = docs.find((d) => d.kind === 'ClusterStorageContainer') as StorageContainer;
    isvc = docs.find((d) => d.kind === 'InferenceService') as InferenceService;
    // The example's FTP server, here: the same login (its password from the "Secret"), the same path.
    srv = await startFtpSrv({ user: 'models', password: 'pa55' });
    dir = await mkdtemp(path.join(tmpdir(), 'mm-kserve-'));
    const uri = new URL(isvc.spec.predictor.model.storageUri);
    await publish(
      path.join(srv.root, path.posix.dirname(uri.pathname)),
      path.posix.basename(uri.pathname),
      modelFiles(1, { 'params/big': 'b'.repeat(300_000) }),
    );
  });
  afterAll(async () => {
    await srv?.stop();
    if (srv) await removeRoot(srv);
    await rm(dir, { recursive: true, force: true });
  });

  /** The example's storageUri, pointed at the local server. */
  const storageUri = () => isvc.spec.predictor.model.storageUri.replace('ftp.example.com:21', `127.0.0.1:${srv.port}`);

  /** The init container as KServe builds it: the spec's command, then KServe's arguments (URI, DEST). */
  function initContainer(uri: string, dest: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const c = sc.spec.container;
    expect(c.command?.[0]).toBe('model-monitor');
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? 'pa55']));
    return run([...(c.command ?? []).slice(1), uri, dest], { env });
  }

  it("is KServe's storage-initializer, with a command and no args (KServe passes URI and DEST)", () => {
    expect(sc.kind).toBe('ClusterStorageContainer');
    expect(sc.spec.container.name).toBe('storage-initializer');
    expect(sc.spec.container.command).toEqual(['model-monitor', 'kserve-init']);
    expect(sc.spec.container.args).toBeUndefined();
    expect(sc.spec.container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(unknownEnv((sc.spec.container.env ?? []).map((e) => e.name))).toEqual([]);
  });

  it('claims only URI schemes model-monitor reads, among them ftp://, and the example InferenceService’s URI', () => {
    const schemes = new Set(sources.flatMap((s) => s.schemes));
    for (const f of sc.spec.supportedUriFormats) expect(schemes.has(String(f.prefix).replace(/:\/\/$/, '')), JSON.stringify(f)).toBe(true);
    expect(claims(sc, 'ftp://host/m')).toBe(true);
    expect(claims(sc, isvc.spec.predictor.model.storageUri)).toBe(true);
  });

  it.skipIf(!ftpRegistered)('run as KServe runs it against a real FTP server: exit 0 and DEST holds exactly the model; again on a restart', async () => {
    const dest = path.join(dir, 'mnt', 'models');
    const r = await initContainer(storageUri(), dest);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const want = asStrings(modelFiles(1, { 'params/big': 'b'.repeat(300_000) }));
    expect(await readTree(dest)).toEqual(want);
    // The kubelet runs an init container again after a Pod restart; DEST (an emptyDir) still holds the model.
    const again = await initContainer(storageUri(), dest);
    expect(again.code, again.stderr).toBe(0);
    expect(await readTree(dest)).toEqual(want);
  });

  it.skipIf(!ftpRegistered)('a URI with no model behind it: exit 1 naming it, nothing in DEST; a bad argument list: exit 2', async () => {
    const dest = path.join(dir, 'missing');
    const r = await initContainer(storageUri().replace(/uci_housing_model$/, 'no_such_model'), dest);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/no model at ftp:\/\/models@127\.0\.0\.1:\d+\/serving\/no_such_model/);
    expect(await readdir(dest).catch(() => [])).toEqual([]);
    const bad = await run(['kserve-init', storageUri()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/kserve-init takes|missing required argument/);
  });
});
