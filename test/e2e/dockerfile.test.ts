/**
 * The Dockerfile, without Docker (there is no `docker build` here): it is
 * parsed, checked for what the issue asks (multi-stage, built from the packed
 * tarball, non-root, nothing written outside the model volume), and its steps
 * are run for real in scratch directories, each stage's `/` mapped to its own
 * directory: `npm ci` + `npm pack`, the install of the tarball's files with
 * the lockfile's production dependencies, and the entrypoint with --version
 * and a real sync run as an unprivileged user.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | null;
  readonly steps: Instruction[];
}

/** Dockerfile → stages: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of logical) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!op || args === undefined) throw new Error(`cannot parse: ${line}`);
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: m[1]!, name: m[2] ?? null, steps: [] });
    } else stages.at(-1)!.steps.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

/** `A=1 B=$A/x` → entries, `$VAR` expanded from what is set so far. */
function envPairs(args: string, env: Record<string, string>): [string, string][] {
  return [...args.matchAll(/(\w+)=(\S+)/g)].map(([, k, v]) => [k!, v!.replace(/\$(\w+)/g, (_m, n: string) => env[n] ?? '')]);
}

function sh(
  cmd: string,
  args: readonly string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number },
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: o.cwd, env: o.env, timeout: 240_000, maxBuffer: 32 << 20, ...(o.uid !== undefined ? { uid: o.uid, gid: o.gid } : {}) },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const hostEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  npm_config_prefer_offline: 'true',
  npm_config_update_notifier: 'false',
});

let text: string;
let stages: Stage[];
let scratch: string;
beforeAll(async () => {
  text = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  stages = parseDockerfile(text);
  scratch = await mkdtemp(path.join(tmpdir(), 'mm-docker-'));
  await chmod(scratch, 0o755);
});
afterAll(async () => rm(scratch, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it('is multi-stage on a Node 20 base; the final stage takes only the build stage’s output and runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const final = stages.at(-1)!;
    for (const s of stages) expect(s.from).toMatch(/^node:20[.-]/);
    const copies = final.steps.filter((s) => s.op === 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) expect(c.args, 'the final stage copies nothing from the build context').toMatch(/^--from=/);
    const user = final.steps.filter((s) => s.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(final.steps.find((s) => s.op === 'ENTRYPOINT')?.args).toBe('["model-monitor"]');
  });

  it('builds from the packed tarball: the build stage runs npm pack and installs from its files', () => {
    const runs = stages[0]!.steps
      .filter((s) => s.op === 'RUN')
      .map((s) => s.args)
      .join('\n');
    expect(runs).toMatch(/npm pack/);
    expect(runs).toMatch(/tar -xzf model-monitor-\*\.tgz/);
    expect(runs).toMatch(/npm ci --omit=dev/);
  });

  it('its image tag is the one every example names, at the package version', async () => {
    const version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const tag = /docker build -t (\S+) \./.exec(text)?.[1];
    expect(tag).toBe(`registry.example.com/model-monitor:${version}`);
    for (const f of ['k8s-sidecar.yaml', 'k8s-native-sidecar.yaml', 'kserve-storage-container.yaml']) {
      const docs = parseAllDocuments(await readFile(path.join(ROOT, 'examples', f), 'utf8')).map((d) => JSON.stringify(d.toJS()));
      const images = [...docs.join('\n').matchAll(/"image":"([^"]*model-monitor[^"]*)"/g)].map((m) => m[1]);
      expect(images.length, f).toBeGreaterThan(0);
      expect(new Set(images), f).toEqual(new Set([tag]));
    }
  });

  it('runs: every stage’s steps in a scratch root, then the entrypoint (--version, and a sync as an unprivileged user)', async () => {
    const roots = new Map<string, string>();
    let final = { root: '', cwd: '', env: hostEnv(), user: 'root' };
    for (const [i, stage] of stages.entries()) {
      const root = path.join(scratch, `stage${i}`);
      await mkdir(root, { recursive: true });
      if (stage.name) roots.set(stage.name, root);
      const env: Record<string, string> = {};
      let cwd = root;
      let user = 'root';
      /** An absolute path of the image, in this stage's scratch root. */
      const inRoot = (p: string) => (p.startsWith('/') ? path.join(root, p) : path.resolve(cwd, p));
      const runEnv = () => {
        const e = hostEnv();
        for (const [k, v] of Object.entries(env)) e[k] = k === 'PATH' ? v : v.startsWith('/') ? inRoot(v) : v;
        return e;
      };
      for (const step of stage.steps) {
        if (step.op === 'WORKDIR') {
          cwd = inRoot(step.args);
          await mkdir(cwd, { recursive: true });
        } else if (step.op === 'ENV') {
          for (const [k, v] of envPairs(step.args.replace(/\$PATH\b/, '\u0000'), { ...env })) {
            // PATH: the image's own entries re-rooted, then the host's (node, npm, sh live there).
            env[k] =
              k === 'PATH'
                ? v
                    .split(':')
                    .map((p) => (p === '\u0000' ? (process.env.PATH ?? '') : inRoot(p)))
                    .join(':')
                : v;
          }
        } else if (step.op === 'COPY') {
          const parts = step.args.split(/\s+/);
          const from = parts[0]!.startsWith('--from=') ? roots.get(parts.shift()!.slice(7))! : null;
          const dest = parts.pop()!;
          for (const src of parts) {
            const source = from ? path.join(from, src) : path.join(ROOT, src);
            const target = dest.endsWith('/') || parts.length > 1 ? path.join(inRoot(dest), path.basename(src)) : inRoot(dest);
            await mkdir(path.dirname(target), { recursive: true });
            await cp(source, target, { recursive: true });
          }
        } else if (step.op === 'RUN') {
          expect(step.args, 'RUN steps use relative paths or $APP only').not.toMatch(/(^|[\s"'=])\/[\w.-]/);
          const r = await sh('sh', ['-c', step.args], { cwd, env: runEnv() });
          expect(r.code, `RUN ${step.args}\n${r.out.slice(-3000)}`).toBe(0);
        } else if (step.op === 'USER') user = step.args;
      }
      final = { root, cwd, env: runEnv(), user };
    }

    // The image holds the tarball's files, not the sources.
    const app = path.join(final.root, 'opt', 'model-monitor');
    expect((await stat(path.join(app, 'dist', 'bundle', 'cli.js'))).isFile()).toBe(true);
    await expect(stat(path.join(app, 'src'))).rejects.toThrow();
    await expect(stat(path.join(app, 'node_modules', 'vitest'))).rejects.toThrow(); // no dev dependencies

    const version = await sh('model-monitor', ['--version'], { cwd: final.cwd, env: final.env });
    expect(version.code, version.out).toBe(0);
    expect(version.out.trim()).toBe((JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    if (process.getuid?.() === 0) {
      // As the image's USER would run it (uid 1000 is `node` there): it may write the model volume and nothing else.
      await chmod(path.join(scratch), 0o755);
      const remote = path.join(scratch, 'remote');
      const models = path.join(scratch, 'models');
      await publish(remote, 'model', modelFiles(1));
      await mkdir(models);
      await chmod(models, 0o777);
      await sh('chmod', ['-R', 'a+rX', remote, final.root], { cwd: scratch, env: hostEnv() });
      const env = { ...final.env, HOME: '/nonexistent', MODEL_MONITOR_LOG_FORMAT: 'json' };
      const r = await sh(
        'model-monitor',
        ['sync', '--remote', `file://${remote}`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', models],
        { cwd: models, env, uid: 1000, gid: 1000 },
      );
      expect(r.code, r.out).toBe(0);
      expect(await readFile(path.join(models, 'model', '__model__'), 'utf8')).toBe('model version 1\n');
    }
    expect(final.user).toBe('node');
  }, 600_000);
});
