import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { startServer } from '../../src/server.js';

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function serve(metrics: Metrics = createMetrics()) {
  const s = await startServer({ host: '127.0.0.1', port: 0, metrics, log: silentLogger() });
  running.push(s);
  const get = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${s.port}${p}`, init);
  return { s, metrics, get };
}

describe('startServer', () => {
  it('binds a random port when asked for port 0', async () => {
    const { s } = await serve();
    expect(s.port).toBeGreaterThan(0);
  });

  it('/healthz answers 200 whatever the sync state', async () => {
    const { get, metrics } = await serve();
    expect((await get('/healthz')).status).toBe(200);
    metrics.outcome({ kind: 'failed', err: new Error('x') });
    expect((await get('/healthz')).status).toBe(200);
  });

  it('/readyz follows metrics.ready(): 503 before a model, 200 when served, 503 after a failed sync', async () => {
    const { get, metrics } = await serve();
    const before = await get('/readyz');
    expect(before.status).toBe(503);
    expect(await before.text()).toMatch(/not ready/);
    metrics.served('v1', new Date().toISOString(), 0);
    expect((await get('/readyz')).status).toBe(200);
    metrics.outcome({ kind: 'failed', err: new Error('x') });
    expect((await get('/readyz')).status).toBe(503);
    metrics.outcome({ kind: 'current', version: 'v1' });
    expect((await get('/readyz')).status).toBe(200);
  });

  it('/metrics serves the registry in the text format with its content type', async () => {
    const { get, metrics } = await serve();
    metrics.hooks.onBytes?.(1234);
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(metrics.registry.contentType);
    const body = await r.text();
    expect(body).toMatch(/^model_monitor_fetched_bytes_total 1234$/m);
    expect(body).toContain('# TYPE model_monitor_syncs_total counter');
  });

  it('ignores the query string, answers HEAD without a body, 404 elsewhere, 405 for other methods', async () => {
    const { get } = await serve();
    expect((await get('/healthz?verbose=1')).status).toBe(200);
    const head = await get('/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get('/')).status).toBe(404);
    expect((await get('/metrics/x')).status).toBe(404);
    const post = await get('/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('two servers with two registries do not share state', async () => {
    const a = await serve();
    const b = await serve();
    a.metrics.hooks.onBytes?.(5);
    expect(await (await a.get('/metrics')).text()).toMatch(/^model_monitor_fetched_bytes_total 5$/m);
    expect(await (await b.get('/metrics')).text()).toMatch(/^model_monitor_fetched_bytes_total 0$/m);
  });

  it('a busy port is a ConfigError naming --metrics-port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startServer({ host: '127.0.0.1', port, metrics: createMetrics(), log: silentLogger() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^--metrics-port: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('close() returns promptly even with a keep-alive connection open', async () => {
    const metrics = createMetrics();
    const s = await startServer({ host: '127.0.0.1', port: 0, metrics, log: silentLogger() });
    const r = await fetch(`http://127.0.0.1:${s.port}/healthz`, { headers: { connection: 'keep-alive' } });
    await r.text();
    await s.close();
    await expect(fetch(`http://127.0.0.1:${s.port}/healthz`)).rejects.toThrow();
  });
});
