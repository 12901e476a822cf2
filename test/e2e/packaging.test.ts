/**
 * e2e: what `npm pack` ships, and that the tarball installs globally into an
 * empty prefix and runs (`npx model-monitor`, `npm install -g model-monitor`).
 * Needs `npm run build` first (dist/ is packed as built).
 * Dependencies come from the npm cache when they are there, else the registry.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree } from '../helpers/producer.js';
import { startHttpFileServer } from '../servers/http.js';

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** npm's own npm_* variables (set by `npm test` / npx) must not leak into the npm we run. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function sh(cmd: string, args: readonly string[], o: { cwd?: string; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: o.cwd ?? ROOT, env: cleanEnv(), timeout: o.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface PackFile {
  readonly path: string;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-pack-'));
  // dist/ is what ships; without a build the tarball would hold an old or no CLI.
  await stat(path.join(ROOT, 'dist', 'bundle', 'cli.js')).catch(() => {
    throw new Error('dist/bundle/cli.js is missing: run `npm run build` first');
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm package', () => {
  it('holds only dist/bundle/, bin/, README.md, LICENSE and package.json', async () => {
    // --ignore-scripts: the `prepare` build would write dist/ in a tree others are editing; the test builds first.
    const r = await sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const [pack] = JSON.parse(r.stdout) as [{ files: PackFile[] }];
    const files = pack.files.map((f) => f.path).sort();
    const stray = files.filter((f) => !/^(dist\/|bin\/)/.test(f) && !['README.md', 'LICENSE', 'package.json'].includes(f));
    expect(stray).toEqual([]);
    // dist/bundle/ (rolldown.config.mjs): the entries, and the lazily loaded modules as chunks of their own.
    for (const must of [
      'package.json',
      'LICENSE',
      'README.md',
      'bin/model-monitor.js',
      'dist/bundle/cli.js',
      'dist/bundle/worker.js',
      'dist/bundle/hash-worker.js',
    ]) {
      expect(files, `${must} missing from the tarball`).toContain(must);
    }
    for (const chunk of ['metrics', 'server', 'progress', 'unpack', 'demo']) {
      expect(
        files.some((f) => new RegExp(`^dist/bundle/${chunk}-[\\w-]+\\.js$`).test(f)),
        `a ${chunk} chunk missing from the tarball`,
      ).toBe(true);
    }
    expect(files.filter((f) => f.startsWith('dist/') && !f.startsWith('dist/bundle/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs from the tarball into an empty prefix, and `model-monitor --help` runs', async () => {
    const t0 = Date.now();
    const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { timeoutMs: 60_000 });
    expect(packed.code, packed.stderr).toBe(0);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const tarball = path.join(dir, filename);
    const prefix = path.join(dir, 'prefix');
    const installed = await sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: dir,
      timeoutMs: 80_000,
    });
    expect(installed.code, installed.stderr).toBe(0);

    const bin = path.join(prefix, 'bin', 'model-monitor');
    const help = await sh(bin, ['--help'], { cwd: dir, timeoutMs: 20_000 });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: model-monitor /m);
    for (const cmd of ['watch', 'sync', 'rollback', 'status']) expect(help.stdout).toContain(cmd);

    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const version = await sh(bin, ['--version'], { cwd: dir, timeoutMs: 20_000 });
    expect(version.stdout.trim()).toBe(pkg.version);

    // A real pull from the installed files: the bundle's wire worker and lazily loaded chunks are in the tarball.
    const remote = path.join(dir, 'remote');
    const model = modelFiles(1, { 'big.bin': Buffer.alloc(2 * 1024 * 1024 + 3, 5) });
    await publish(remote, 'model', model);
    const server = await startHttpFileServer(remote);
    try {
      const local = path.join(dir, 'local');
      const args = ['sync', '--remote', server.url, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local];
      const pulled = await sh(bin, [...args, '--data-path', 'wire'], { cwd: dir, timeoutMs: 30_000 });
      expect(pulled.code, pulled.stderr).toBe(0);
      const served = await readTree(path.join(local, 'model'));
      delete served['fluid_time_file'];
      expect(served).toEqual(asStrings(model));
    } finally {
      await server.close();
    }
    expect(Date.now() - t0).toBeLessThan(90_000);
  }, 120_000);
});
