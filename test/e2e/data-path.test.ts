/**
 * --data-path: `wire` (the default: the engine's worker threads own the
 * sockets) and `stock` (the stream path, the escape hatch) pull the same model
 * byte for byte through the real CLI over HTTP, resumes included; a value that
 * is neither is refused before any work.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { asStrings, exists, modelFiles, publish, readTree } from '../helpers/producer.js';
import { startHttpFileServer, type HttpFileServer } from '../servers/http.js';

let dir: string;
let remote: string;
let server: HttpFileServer;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-data-path-'));
  remote = path.join(dir, 'remote');
  server = await startHttpFileServer(remote);
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
const files = () => modelFiles(1, { 'big.bin': big });
const args = (local: string, dataPath: string) => [
  'sync',
  '--remote',
  server.url,
  '--remote_model_name',
  'model',
  '--remote_donefile_name',
  'donefile',
  '--local_path',
  local,
  '--retries',
  '3',
  '--data-path',
  dataPath,
];

describe('--data-path', () => {
  for (const dataPath of ['wire', 'stock']) {
    it(`${dataPath}: the served model equals the remote, a dropped file retried`, async () => {
      await publish(remote, 'model', files());
      server.dropNextDownload('model/big.bin', 1024 * 1024 + 5);
      const local = path.join(dir, `local-${dataPath}`);
      const r = await run(args(local, dataPath));
      expect(r.code, r.stderr).toBe(0);
      // The drop happened and was retried: the model above is whole all the same.
      expect(r.lines.some((l) => l.event === 'retry' && String(l['what']).includes('big.bin'))).toBe(true);
      const served = await readTree(path.join(local, 'model'));
      delete served['fluid_time_file'];
      expect(served).toEqual(asStrings(files()));
    });
  }

  it('a value that is neither: exit 2 naming the flag, nothing pulled', async () => {
    await publish(remote, 'model', files());
    const local = path.join(dir, 'local-bad');
    const r = await run(args(local, 'fast'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data-path/);
    expect(await exists(path.join(local, 'model'))).toBe(false);
  });
});
