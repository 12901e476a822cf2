/**
 * The wire engine against real sockets on 127.0.0.1: node's http server and
 * raw net servers that drop, stall, trickle and lie. Runs the compiled worker
 * (dist/wire/worker.js: `npm run build` first, as `npm test` does).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, ModelChangedError, RemoteError, TransientError } from '../../../src/errors.js';
import { bytesWritten, type WireEngine, type WireJob } from '../../../src/wire/engine.js';
import { WireUnsupportedError } from '../../../src/wire/faults.js';
import { createWireEngine } from '../../../src/wire/pool.js';
import { pseudoRandom, MiB } from '../../helpers/bytes.js';
import { get, httpServer, netServer, type TestServer } from './servers.js';

const data = pseudoRandom(5 * MiB + 123, 18);
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
let dir: string;
let engine: WireEngine;
let http: TestServer;
const never = new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mm-wire-'));
  engine = createWireEngine({ workers: 2 })!;
  expect(engine).not.toBeNull();
  http = await httpServer(new Map([['/model.bin', data]]), new Map([['/broken', 500]]));
});
afterAll(async () => {
  await engine.close();
  await http.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const file = () => path.join(dir, `f${n++}`);

function job(over: Partial<WireJob> & Pick<WireJob, 'port' | 'file'>): WireJob {
  return {
    host: '127.0.0.1',
    protocol: 'http',
    request: get('/model.bin'),
    position: 0,
    length: data.length,
    md5: false,
    idleMs: 5000,
    minBytesPerSec: 0,
    headMs: 5000,
    ...over,
  };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );

describe('wire engine: http', () => {
  it('writes a whole file, reports its head and progress in batches, with md5', async () => {
    const f = file();
    let reported = 0;
    let reports = 0;
    let heads = 0;
    const r = await engine.run(job({ port: http.port, file: f, md5: true }), {
      signal: never,
      onBytes: (k) => ((reported += k), reports++),
      onHead: (h) => (expect(h.status).toBe(200), expect(h.headers.etag).toBe('"v1"'), heads++),
    });
    expect(r.bytes).toBe(data.length);
    expect(r.md5).toBe(md5(data));
    expect(heads).toBe(1);
    expect(reported).toBe(data.length);
    expect(reports).toBeLessThan(20);
    expect((await readFile(f)).equals(data)).toBe(true);
  });

  it('truncate: a longer stale file is emptied when the job opens it (a fresh whole file keeps no old tail)', async () => {
    const f = file();
    await writeFile(f, Buffer.alloc(data.length + 4096, 1));
    const r = await engine.run(job({ port: http.port, file: f, truncate: true }), { signal: never });
    expect(r.bytes).toBe(data.length);
    expect((await readFile(f)).equals(data)).toBe(true);
  });

  it('resumes from a position: a ranged read at its offset, md5 of the prefix on disk and the body', async () => {
    const f = file();
    const at = 3 * MiB + 7;
    await writeFile(f, data.subarray(0, at));
    const r = await engine.run(
      job({ port: http.port, file: f, md5: true, position: at, length: data.length - at, request: get('/model.bin', `bytes=${at}-`) }),
      { signal: never },
    );
    expect(r.bytes).toBe(data.length - at);
    expect(r.md5).toBe(md5(data));
    expect((await readFile(f)).equals(data)).toBe(true);
  });

  it('writes ranged parts side by side in one file', async () => {
    const f = file();
    await writeFile(f, Buffer.alloc(data.length));
    const size = 2 * MiB;
    const parts = [0, size, 2 * size].map((start) => ({ start, length: Math.min(size, data.length - start) }));
    await Promise.all(
      parts.map((p) =>
        engine.run(
          job({ port: http.port, file: f, position: p.start, length: p.length, request: get('/model.bin', `bytes=${p.start}-${p.start + p.length - 1}`) }),
          {
            signal: never,
          },
        ),
      ),
    );
    expect((await readFile(f)).equals(data)).toBe(true);
  });

  it('a 404 or a 500 writes nothing and returns the start of its body', async () => {
    for (const [p, status] of [
      ['/nope', 404],
      ['/broken', 500],
    ] as const) {
      const f = file();
      const r = await engine.run(job({ port: http.port, file: f, request: get(p) }), { signal: never });
      expect(r.head?.status).toBe(status);
      expect(r.bytes).toBe(0);
      expect(r.errorBody).toBe(`no luck with ${p}: ${status}`);
      expect((await readFile(f)).length).toBe(0);
    }
  });

  it('a 200 to a resume request (Range ignored) never writes over the file', async () => {
    const s = await netServer((sock) => sock.end(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789`));
    const f = file();
    await writeFile(f, 'abc');
    const r = await engine.run(job({ port: s.port, file: f, position: 3, length: 7 }), { signal: never });
    expect(r.head?.status).toBe(200);
    expect(r.bytes).toBe(0);
    expect(await readFile(f, 'utf8')).toBe('abc');
    await s.close();
  });

  it('onHead refusing the answer fails the job with its error', async () => {
    const err = await failure(
      engine.run(job({ port: http.port, file: file() }), {
        signal: never,
        onHead: () => {
          throw new ModelChangedError('changed');
        },
      }),
    );
    expect(err).toBeInstanceOf(ModelChangedError);
    expect(bytesWritten(err)).toBeLessThanOrEqual(data.length);
  });

  it('keeps a connection alive between jobs to the same server', async () => {
    const s = await httpServer(new Map([['/a', data.subarray(0, 1000)]]));
    for (let i = 0; i < 4; i++) await engine.run(job({ port: s.port, file: file(), length: 1000, request: get('/a') }), { signal: never });
    expect(s.connections).toBeLessThanOrEqual(2); // one per worker at most
    await s.close();
  });

  it('headOnly: a HEAD returns its head (any status), opens no file, and leaves the connection for the GET after it', async () => {
    const s = await httpServer(new Map([['/a', data.subarray(0, 1000)]]));
    const head = (p: string) =>
      engine.run(job({ port: s.port, file: path.join(dir, 'never-opened'), headOnly: true, length: 0, request: get(p).replace(/^GET/, 'HEAD') }), {
        signal: never,
      });
    const heads = [];
    for (let i = 0; i < 3; i++) heads.push(await head('/a'));
    for (const r of heads) {
      expect(r.head?.status).toBe(200);
      expect(r.head?.headers['content-length']).toBe('1000');
      expect(r.head?.headers.etag).toBe('"v1"');
      expect(r.bytes).toBe(0);
    }
    expect((await head('/missing')).head?.status).toBe(404);
    const f = file();
    const r = await engine.run(job({ port: s.port, file: f, length: 1000, request: get('/a') }), { signal: never });
    expect(r.bytes).toBe(1000);
    expect((await readFile(f)).equals(data.subarray(0, 1000))).toBe(true);
    await expect(readFile(path.join(dir, 'never-opened'))).rejects.toThrow(/ENOENT/);
    expect(s.connections).toBeLessThanOrEqual(2); // one per worker at most: HEADs and GET on kept-alive sockets
    await s.close();
  });

  it('headOnly: a server that sends a body after a HEAD answer does not get that connection back', async () => {
    const body = data.subarray(0, 2000);
    const s = await netServer((sock, req) => {
      if (req.startsWith('HEAD')) sock.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello`);
      else sock.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
    });
    const r = await engine.run(job({ port: s.port, file: '', headOnly: true, length: 0, request: get('/x').replace(/^GET/, 'HEAD') }), { signal: never });
    expect(r.head?.status).toBe(200);
    const f = file();
    const g = await engine.run(job({ port: s.port, file: f, length: body.length, request: get('/x') }), { signal: never });
    expect(g.bytes).toBe(body.length);
    expect((await readFile(f)).equals(body)).toBe(true);
    expect(s.connections).toBe(2);
    await s.close();
  });

  it('a head split byte by byte across reads, body bytes in the same read as the head', async () => {
    const body = data.subarray(0, 100_000);
    const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const s = await netServer((sock) => {
      let i = 0;
      const tick = setInterval(() => {
        if (i < head.length - 2) return void sock.write(head[i++]!);
        clearInterval(tick);
        sock.end(Buffer.concat([Buffer.from(head.slice(i)), body]));
      }, 1);
    });
    const f = file();
    const r = await engine.run(job({ port: s.port, file: f, length: body.length }), { signal: never });
    expect(r.bytes).toBe(body.length);
    expect((await readFile(f)).equals(body)).toBe(true);
    await s.close();
  });

  it('a chunked answer is refused before any byte is written (the caller takes the stock path)', async () => {
    const s = await netServer((sock) => sock.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const err = await failure(engine.run(job({ port: s.port, file: file(), length: 5 }), { signal: never }));
    expect(err).toBeInstanceOf(WireUnsupportedError);
    expect(bytesWritten(err)).toBe(0);
    await s.close();
  });
});

describe('wire engine: faults', () => {
  it('a drop at random offsets is a TransientError whose bytesWritten is what is on disk, and resuming from it makes the file whole', async () => {
    let x = 99;
    for (let round = 0; round < 4; round++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const cut = 1 + (x % (data.length - 2));
      const s = await netServer((sock) =>
        sock.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`), data.subarray(0, cut)])),
      );
      const f = file();
      const err = await failure(engine.run(job({ port: s.port, file: f, md5: true }), { signal: never }));
      expect(err).toBeInstanceOf(TransientError);
      const w = bytesWritten(err);
      expect(w).toBe(cut);
      expect((await readFile(f)).equals(data.subarray(0, w))).toBe(true);
      await s.close();
      const r = await engine.run(
        job({ port: http.port, file: f, md5: true, position: w, length: data.length - w, request: get('/model.bin', `bytes=${w}-`) }),
        { signal: never },
      );
      expect(r.md5).toBe(md5(data));
      expect((await readFile(f)).equals(data)).toBe(true);
    }
  });

  it('a server killed mid-body (connection reset) is a TransientError with the bytes on disk', async () => {
    const s = await netServer((sock) => {
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`);
      sock.write(data.subarray(0, 300_000), () => sock.resetAndDestroy());
    });
    const f = file();
    const err = await failure(engine.run(job({ port: s.port, file: f }), { signal: never }));
    expect(err).toBeInstanceOf(TransientError);
    expect((await readFile(f)).length).toBe(bytesWritten(err));
    await s.close();
  });

  it('a connection refused is a TransientError', async () => {
    const s = await netServer(() => {});
    const port = s.port;
    await s.close();
    const err = await failure(engine.run(job({ port, file: file() }), { signal: never }));
    expect(err).toBeInstanceOf(TransientError);
    expect(bytesWritten(err)).toBe(0);
  });

  it('a stall mid-body fails after idleMs; a trickle below minBytesPerSec fails too', async () => {
    const stall = await netServer((sock) => sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n${'x'.repeat(1000)}`));
    const e1 = await failure(engine.run(job({ port: stall.port, file: file(), idleMs: 300 }), { signal: never }));
    expect(e1).toBeInstanceOf(TransientError);
    expect(e1.message).toMatch(/no data for 300 ms/);
    expect(bytesWritten(e1)).toBe(1000);
    await stall.close();
    const trickle = await netServer((sock) => {
      sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`);
      const t = setInterval(() => sock.write('y'), 20);
      sock.once('close', () => clearInterval(t));
    });
    const e2 = await failure(engine.run(job({ port: trickle.port, file: file(), idleMs: 400, minBytesPerSec: 10_000 }), { signal: never }));
    expect(e2).toBeInstanceOf(TransientError);
    expect(e2.message).toMatch(/below --min-rate/);
    await trickle.close();
  });

  it('a head that never completes fails after headMs', async () => {
    const s = await netServer((sock) => sock.write('HTTP/1.1 200 OK\r\n'));
    const err = await failure(engine.run(job({ port: s.port, file: file(), headMs: 300 }), { signal: never }));
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toMatch(/no response headers within 300 ms/);
    await s.close();
  });

  it('a size lie: a Content-Length past what was asked, or more bytes than asked to EOF, is a RemoteError', async () => {
    const big = await netServer((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789'));
    const e1 = await failure(engine.run(job({ port: big.port, file: file(), length: 10 }), { signal: never }));
    expect(e1).toBeInstanceOf(RemoteError);
    expect(bytesWritten(e1)).toBe(0);
    await big.close();
    const eof = await netServer((sock) => sock.end('HTTP/1.0 200 OK\r\n\r\n01234567890123456789'));
    const f = file();
    const e2 = await failure(engine.run(job({ port: eof.port, file: f, length: 10 }), { signal: never }));
    expect(e2).toBeInstanceOf(RemoteError);
    expect(e2.message).toMatch(/more than the 10 bytes/);
    expect(bytesWritten(e2)).toBe(10);
    await eof.close();
  });

  it('an abort from the main thread destroys the socket and fails the job with the bytes on disk', async () => {
    const s = await netServer((sock) => sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n${'z'.repeat(5000)}`));
    const ac = new AbortController();
    const f = file();
    const p = failure(engine.run(job({ port: s.port, file: f }), { signal: ac.signal, onBytes: () => ac.abort(new Error('stop')) }));
    const err = await p;
    expect(err).toBeInstanceOf(AbortedError);
    expect(bytesWritten(err)).toBe(5000);
    await s.close();
  });

  it('many concurrent jobs land whole', async () => {
    const files = Array.from({ length: 24 }, () => file());
    const rs = await Promise.all(files.map((f) => engine.run(job({ port: http.port, file: f, md5: true }), { signal: new AbortController().signal })));
    for (const r of rs) expect(r.md5).toBe(md5(data));
    for (const f of files) expect((await readFile(f)).length).toBe(data.length);
  });
});

describe('wire engine: raw', () => {
  it('reads every byte until EOF, once connected', async () => {
    const s = await netServer((sock) => sock.end(data), false);
    const f = file();
    let connected = 0;
    const r = await engine.run(job({ port: s.port, file: f, protocol: 'raw', md5: true }), { signal: never, onConnected: () => connected++ });
    expect(connected).toBe(1);
    expect(r.md5).toBe(md5(data));
    expect((await readFile(f)).equals(data)).toBe(true);
    await s.close();
  });

  it('gated: no file and no byte before the gate opens; then every byte lands', async () => {
    const s = await netServer((sock) => sock.end(data), false);
    const f = file();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let connected!: () => void;
    const isConnected = new Promise<void>((r) => (connected = r));
    const run = engine.run(job({ port: s.port, file: f, protocol: 'raw', md5: true }), { signal: never, onConnected: () => connected(), gate });
    await isConnected;
    // The server has sent everything and closed: a job that read anyway would have made the file by now.
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      await expect(readFile(f)).rejects.toThrow(/ENOENT/);
      await new Promise((r) => setTimeout(r, 20));
    }
    open();
    const r = await run;
    expect(r.md5).toBe(md5(data));
    expect((await readFile(f)).equals(data)).toBe(true);
    await s.close();
  });

  it('gated: a refused gate fails the job with its error and leaves no file', async () => {
    const s = await netServer((sock) => sock.end(data), false);
    const f = file();
    const gate = Promise.reject(new ModelChangedError('changed: the 150 said 12 bytes'));
    const err = await failure(engine.run(job({ port: s.port, file: f, protocol: 'raw' }), { signal: never, gate }));
    expect(err).toBeInstanceOf(ModelChangedError);
    expect(bytesWritten(err)).toBe(0);
    await expect(readFile(f)).rejects.toThrow(/ENOENT/);
    await s.close();
  });

  it('fewer bytes than the length at EOF is a TransientError; more is a RemoteError', async () => {
    const s = await netServer((sock) => sock.end(data.subarray(0, 1000)), false);
    const e1 = await failure(engine.run(job({ port: s.port, file: file(), protocol: 'raw', length: 2000 }), { signal: never }));
    expect(e1).toBeInstanceOf(TransientError);
    expect(bytesWritten(e1)).toBe(1000);
    const e2 = await failure(engine.run(job({ port: s.port, file: file(), protocol: 'raw', length: 500 }), { signal: never }));
    expect(e2).toBeInstanceOf(RemoteError);
    await s.close();
  });
});

describe('wire engine: warm', () => {
  it('warm() starts the workers before any job, and says when one is up', async () => {
    const e = createWireEngine({ workers: 2 })!;
    expect(e.warm()).toBe(false);
    const deadline = Date.now() + 20_000;
    while (!e.warm()) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await e.run(job({ port: http.port, file: file() }), { signal: never });
    expect(r.bytes).toBe(data.length);
    await e.close();
    expect(e.warm()).toBe(false);
  });
});

describe('wire engine: close', () => {
  it('fails the jobs still running with an AbortedError, and refuses new ones', async () => {
    const own = createWireEngine({ workers: 1 })!;
    const s = await netServer((sock) => sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`));
    let headSeen!: () => void;
    const seen = new Promise<void>((r) => (headSeen = r));
    const p = failure(own.run(job({ port: s.port, file: file() }), { signal: never, onHead: () => headSeen() }));
    await seen;
    await own.close();
    expect(await p).toBeInstanceOf(AbortedError);
    expect(await failure(own.run(job({ port: s.port, file: file() }), { signal: never }))).toBeInstanceOf(AbortedError);
    await s.close();
  });
});
