/**
 * FTP downloads on the wire path when the server misbehaves: a scripted
 * server (test/servers/scripted-ftp.ts) for the exact faults, and a real
 * pyftpdlib killed mid-file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, RemoteError, TransientError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { ftp } from '../../src/sources/ftp.js';
import type { Source } from '../../src/sources/types.js';
import { bytesWritten, type WireEngine } from '../../src/wire/engine.js';
import { download, target } from '../conformance/download-extra.suite.js';
import { sourceWith } from '../helpers/source.js';
import { testWire } from '../helpers/wire.js';
import { ftpHarness, ftpSourceFor, removeRoot } from '../servers/ftp-srv.js';
import { pyftpdlibMissing, startPyftpdlib } from '../servers/pyftpdlib.js';
import { startScriptedFtp, type ScriptedFtp } from '../servers/scripted-ftp.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const signal = () => AbortSignal.timeout(30_000);

describe('ftp download() on the wire path against a scripted server', () => {
  let srv: ScriptedFtp;
  let wire: WireEngine;
  let src: Source;
  let local: string;
  const data = randomBytes(1024 * 1024 + 17);
  const fetch = (file = 'f.bin', o: Parameters<typeof target>[2] = {}) =>
    download(src, '/f.bin', target(path.join(local, file), data.length - (o.position ?? 0), o), { signal: signal() });
  const fails = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('resolved'),
      (e: unknown) => e,
    );

  beforeAll(async () => {
    wire = testWire();
    local = await mkdtemp(path.join(tmpdir(), 'mm-ftp-wire-'));
  });
  afterAll(async () => {
    await wire?.close();
    await rm(local, { recursive: true, force: true });
  });
  beforeEach(async () => {
    srv = await startScriptedFtp();
    srv.files.set('/f.bin', data);
    const deps = { log: silentLogger(), timeoutMs: 1500, concurrency: 2, wire };
    src = sourceWith(ftp, new URL(`ftp://127.0.0.1:${srv.port}/`), {}, deps);
  });
  afterEach(async () => {
    await src.close();
    await srv.close();
  });

  it('a whole file, then a second one on the same connection (reused after 226)', async () => {
    expect((await fetch()).md5).toBe(md5(data));
    expect((await fetch('g.bin')).md5).toBe(md5(data));
    expect(srv.connections()).toBe(1);
    expect(srv.commands.filter((c) => c.startsWith('EPSV'))).toHaveLength(2);
  });

  it('resume sends REST before RETR', async () => {
    const at = 400_000;
    await writeFile(path.join(local, 'r.bin'), data.subarray(0, at));
    expect((await fetch('r.bin', { position: at })).md5).toBe(md5(data));
    const i = srv.commands.indexOf(`REST ${at}`);
    expect(i).toBeGreaterThan(0);
    expect(srv.commands[i + 1]).toBe('RETR /f.bin');
  });

  it('EPSV refused: PASV, and PASV only from then on', async () => {
    srv.epsv = false;
    expect((await fetch()).md5).toBe(md5(data));
    expect((await fetch('g.bin')).md5).toBe(md5(data));
    expect(srv.commands.filter((c) => c === 'EPSV')).toHaveLength(1);
    expect(srv.commands.filter((c) => c === 'PASV')).toHaveLength(2);
  });

  it('PASV naming another public host is refused (no FTP bounce)', async () => {
    srv.epsv = false;
    srv.pasvHost = '203.0.113.9';
    const err = await fails(fetch());
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toContain('203.0.113.9');
  });

  it('a stall: a TransientError after the idle deadline, the bytes before it kept as a resume point; the connection closed', async () => {
    srv.retr = { kind: 'stall', after: 300_000 };
    const err = await fails(fetch('s.bin', { idleMs: 400 }));
    expect(err).toBeInstanceOf(TransientError);
    expect(bytesWritten(err)).toBe(300_000);
    expect((await readFile(path.join(local, 's.bin'))).subarray(0, 300_000).equals(data.subarray(0, 300_000))).toBe(true);
    srv.retr = { kind: 'ok' };
    expect((await fetch('s.bin', { position: 300_000 })).md5).toBe(md5(data));
    expect(srv.connections()).toBe(2);
  });

  it('more bytes than SIZE said: a RemoteError (a size lie), not retried', async () => {
    srv.retr = { kind: 'extra', bytes: 1000 };
    const err = await fails(fetch());
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).retryable).toBe(false);
  });

  it('both connections dropped mid-file: a TransientError with the bytes on disk', async () => {
    srv.retr = { kind: 'drop', after: 500_000 };
    const err = await fails(fetch('d.bin'));
    expect(err).toBeInstanceOf(TransientError);
    const n = bytesWritten(err);
    expect(n).toBeLessThanOrEqual(500_000);
    expect((await readFile(path.join(local, 'd.bin'))).subarray(0, n).equals(data.subarray(0, n))).toBe(true);
  });

  it('no 226 after the data: a TransientError after the timeout, every byte kept; the connection not reused', async () => {
    srv.retr = { kind: 'no-final' };
    const err = await fails(fetch());
    expect(err).toBeInstanceOf(TransientError);
    expect(bytesWritten(err)).toBe(data.length);
    srv.retr = { kind: 'ok' };
    expect((await fetch('g.bin')).md5).toBe(md5(data));
    expect(srv.connections()).toBe(2);
  });

  it('451 after part of the file: a TransientError with the bytes written; 550 on RETR: NotFoundError', async () => {
    srv.retr = { kind: 'reply', after: 200_000, line: '451 local error' };
    const err = await fails(fetch());
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain('451');
    expect(bytesWritten(err)).toBeLessThanOrEqual(200_000);
    srv.retr = { kind: 'reply', after: 0, line: '550 gone meanwhile' };
    expect(await fails(fetch())).toBeInstanceOf(NotFoundError);
  });

  it('a 226 after fewer bytes than SIZE said: a TransientError, not a short file passed off as whole', async () => {
    srv.retr = { kind: 'reply', after: 100_000, line: '226 done' };
    const err = await fails(fetch());
    expect(err).toBeInstanceOf(TransientError);
    expect(bytesWritten(err)).toBe(100_000);
  });
});

const noPy = pyftpdlibMissing();
describe.skipIf(noPy !== null)('ftp download() on the wire path: the server killed mid-file (pyftpdlib)', () => {
  it('a TransientError whose bytesWritten are the remote file prefix', async () => {
    const size = 256 * 1024 * 1024;
    const srv = await startPyftpdlib();
    const wire = testWire();
    const local = await mkdtemp(path.join(tmpdir(), 'mm-ftp-kill-'));
    const src = ftpSourceFor(srv, { wire });
    try {
      await (
        await ftpHarness(srv)
      ).putLarge!('big.bin', size);
      const file = path.join(local, 'big.bin');
      let killed: Promise<void> | undefined;
      const onBytes = () => void (killed ??= srv.stop()); // the whole process group, SIGTERM then SIGKILL
      const err = await download(src, 'big.bin', target(file, size, { md5: false }), { signal: signal(), onBytes }).catch((e: unknown) => e);
      await killed;
      expect(err).toBeInstanceOf(TransientError);
      const n = bytesWritten(err);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(size);
      const remote = await readFile(path.join(srv.root, 'models', 'big.bin'));
      expect((await readFile(file)).subarray(0, n).equals(remote.subarray(0, n))).toBe(true);
    } finally {
      await src.close();
      await wire.close();
      await srv.stop();
      await removeRoot(srv);
      await rm(local, { recursive: true, force: true });
    }
  });
});
