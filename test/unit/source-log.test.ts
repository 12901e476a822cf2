/**
 * A source's log lines carry `component: source` and `source: <kind>` once
 * (issue 14: they were bound twice, in monitor.ts and again in each backend).
 */
import { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allOptions, buildConfig, resolveRaw } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createMonitor } from '../../src/monitor.js';
import { modelFiles, publish } from '../helpers/producer.js';
import { startFtpSrv, type FtpSrvHandle } from '../servers/ftp-srv.js';

let srv: FtpSrvHandle;
let local: string;
beforeAll(async () => {
  srv = await startFtpSrv();
  local = await mkdtemp(path.join(tmpdir(), 'mm-source-log-'));
  await publish(srv.root, 'model', modelFiles(1));
});
afterAll(async () => {
  await srv?.stop();
  await rm(local, { recursive: true, force: true });
});

it('every line of the FTP source names its component and source once', async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', destination });
  const raw = resolveRaw(
    { remote: `ftp://127.0.0.1:${srv.port}/`, 'remote-model-name': 'model', 'remote-donefile-name': 'donefile', 'local-path': local },
    {},
    allOptions(),
  );
  const m = createMonitor(buildConfig('sync', raw), log);
  try {
    await m.start();
    expect((await m.cycle(AbortSignal.timeout(60_000))).kind).toBe('updated');
  } finally {
    await m.close();
  }
  const fromSource = lines.filter((l) => l.includes('"component":"source"'));
  expect(fromSource.some((l) => l.includes('"event":"ftp-connect"'))).toBe(true);
  for (const l of fromSource) {
    expect(l.match(/"component":/g), l).toHaveLength(1);
    expect(l.match(/"source":/g), l).toHaveLength(1);
    expect(JSON.parse(l)).toMatchObject({ component: 'source', source: 'ftp' });
  }
});
