import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, ReloadError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { createHttpTrigger } from '../../../src/reload/http.js';
import type { ReloadEvent } from '../../../src/reload/types.js';
import { freePort } from '../../servers/ports.js';

const event: ReloadEvent = { modelDir: '/m/2', version: 'v2', previousVersion: 'v1', previousDir: null };
const ctx = () => ({ log: silentLogger(), signal: AbortSignal.timeout(30_000) });

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly auth: string | undefined;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, auth: req.headers.authorization });
      handler(req, res);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

describe('--http-post trigger', () => {
  it('POSTs an empty body; 2xx is success (Triton load)', async () => {
    const { base, seen } = await serve((_q, res) => res.end());
    await createHttpTrigger({ url: `${base}/v2/repository/models/m/load`, timeoutMs: 10_000 }).fire(event, ctx());
    expect(seen).toEqual([{ method: 'POST', url: '/v2/repository/models/m/load', body: '', auth: undefined }]);
  });

  it('a non-2xx answer is a ReloadError with the status and the first 200 bytes of the body', async () => {
    const { base } = await serve((_q, res) => ((res.statusCode = 500), res.end('x'.repeat(150) + 'y'.repeat(5000))));
    const err = await createHttpTrigger({ url: `${base}/load`, timeoutMs: 10_000 })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    const msg = (err as Error).message;
    expect(msg).toContain(`POST ${base}/load answered 500 Internal Server Error: `);
    expect(msg.endsWith('x'.repeat(150) + 'y'.repeat(50))).toBe(true);
  });

  it('a redirect is not followed (a POST must reach the engine, not turn into a GET)', async () => {
    const { base, seen } = await serve((_q, res) => ((res.statusCode = 302), res.setHeader('location', '/elsewhere'), res.end()));
    await expect(createHttpTrigger({ url: `${base}/load`, timeoutMs: 10_000 }).fire(event, ctx())).rejects.toThrow(/answered 302/);
    expect(seen).toHaveLength(1);
  });

  it('nothing listening: ReloadError naming ECONNREFUSED', async () => {
    const port = await freePort();
    const err = await createHttpTrigger({ url: `http://127.0.0.1:${port}/load`, timeoutMs: 10_000 })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('an engine that never answers: ReloadError "timed out"', async () => {
    const { base } = await serve(() => {});
    const err = await createHttpTrigger({ url: `${base}/load`, timeoutMs: 300 })
      .fire(event, ctx())
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 0.3s/);
  });

  it('credentials in the URL go as Basic auth and never into names or messages', async () => {
    const { base, seen } = await serve((_q, res) => ((res.statusCode = 503), res.end('busy')));
    const url = base.replace('http://', 'http://admin:s3cret@') + '/load';
    const t = createHttpTrigger({ url, timeoutMs: 10_000 });
    expect(t.name).not.toContain('s3cret');
    const err = await t.fire(event, ctx()).catch((e: unknown) => e);
    expect((err as Error).message).not.toContain('s3cret');
    expect(seen[0]!.auth).toBe(`Basic ${Buffer.from('admin:s3cret').toString('base64')}`);
  });

  it('an unparsable URL is a ConfigError', () => {
    expect(() => createHttpTrigger({ url: 'http://', timeoutMs: 1000 })).toThrow(ConfigError);
  });
});
