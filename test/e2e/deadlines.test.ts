/**
 * Every remote operation ends within its deadline, against hostile servers,
 * with a full garbage collection every 20 ms in the monitor (GC_PRESSURE): a
 * deadline that could be collected (AbortSignal.timeout inside AbortSignal.any
 * on Node 20) would never fire. Each case failed before: the FTP greeting
 * trickle held `--timeout 2 --retries 1` until the test killed it, and so did a
 * trickled answer header and a body arriving at one byte a second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GC_PRESSURE, run } from '../helpers/cli.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startTricklingFtp } from '../servers/hostile-ftp.js';
import { startHttpFileServer, type HttpFileServer } from '../servers/http.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'mm-deadlines-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** The test's own limit: past it the CLI is killed and `code` is null, which these tests must never see. */
const KILL_AFTER_MS = 90_000;

const local = (name: string) => ['--local_path', path.join(dir, name, 'local')];
const ftpArgs = (port: number) => ['sync', '--remote', `ftp://127.0.0.1:${port}/models`, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile'];

describe('FTP: a server trickling its greeting byte by byte', () => {
  for (const retries of ['1', '0']) {
    it(`--timeout 2 --retries ${retries} ends with exit 1 and "timed out", under forced collections`, async () => {
      const srv = await startTricklingFtp({ everyMs: 300, lifetimeMs: KILL_AFTER_MS });
      try {
        const r = await run([...ftpArgs(srv.port), ...local(`ftp-${retries}`), '--timeout', '2', '--retries', retries], {
          nodeArgs: GC_PRESSURE,
          timeoutMs: KILL_AFTER_MS,
        });
        expect(r.code, r.stderr).toBe(1);
        expect(JSON.stringify(r.lines)).toMatch(/timed out after 2 s/);
        expect(srv.connections()).toBe(Number(retries) + 1);
      } finally {
        await srv.close();
      }
    });
  }
});

describe('HTTP: hostile answers to a model file', () => {
  let srv: HttpFileServer;
  const root = () => path.join(dir, 'http-root');
  beforeAll(async () => {
    await publish(path.join(root(), 'models'), 'model', modelFiles(1, { 'big.bin': Buffer.alloc(512 * 1024, 7) }));
    srv = await startHttpFileServer(root());
  });
  afterAll(async () => srv.close());
  const args = (name: string) => [
    'sync',
    '--remote',
    `${srv.url}/models`,
    '--remote_model_name',
    'model',
    '--remote_donefile_name',
    'donefile',
    ...local(name),
    '--timeout',
    '2',
    '--retries',
    '1',
  ];

  it('headers that never end (one byte a second): exit 1, "no response headers", under forced collections', async () => {
    srv.trickle('models/model/big.bin', 'headers', { everyMs: 500, forMs: KILL_AFTER_MS });
    const r = await run(args('headers'), { nodeArgs: GC_PRESSURE, timeoutMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/no response headers within 2000 ms/);
  });

  it('a body at one byte every 0.5 s: exit 1, below --min-rate, under forced collections', async () => {
    srv.trickle('models/model/big.bin', 'body', { everyMs: 500, forMs: KILL_AFTER_MS });
    const r = await run(args('body'), { nodeArgs: GC_PRESSURE, timeoutMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/below --min-rate 1024 bytes\/s/);
  });

  it('a request that is never answered at all: exit 1 within the deadlines', async () => {
    srv.stallNext('models/model/big.bin');
    srv.stallNext('models/model/big.bin');
    const r = await run([...args('stall'), '--retries', '0'], { nodeArgs: GC_PRESSURE, timeoutMs: KILL_AFTER_MS });
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.stringify(r.lines)).toMatch(/no response headers within 2000 ms|no data for 2000 ms|timed out after 2 s/);
  });
});
