/**
 * The cache-tier configurations the docs hand out are valid for the real
 * servers: `squid -k parse` takes examples/squid/squid.conf without an error
 * or an unknown option (the e2e fleet tests run its cache rules), and the
 * dfdaemon example parses as YAML with a regex per rule (its rules are checked
 * against recorded requests in fleet-requests.test.ts).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { EXAMPLE_CONFIG, fleetCacheRules, SQUID, squidMissing } from '../servers/squid.js';

const missing = squidMissing();

describe.skipIf(missing !== null)('examples/squid/squid.conf', () => {
  it('passes squid -k parse with no error, no unknown directive or option', async () => {
    const { stdout, stderr } = await promisify(execFile)(SQUID, ['-k', 'parse', '-f', EXAMPLE_CONFIG], { timeout: 30_000 });
    const out = stdout + stderr;
    expect(out).toContain('Processing: collapsed_forwarding on');
    expect(out.split('\n').filter((l) => /unrecognized|Unknown option|ERROR|FATAL|Bungled/i.test(l))).toEqual([]);
  });

  it('holds the fleet cache rules the e2e Squid runs', async () => {
    const rules = await fleetCacheRules();
    expect(rules).toContain('collapsed_forwarding on');
    expect(rules).toContain('reload_into_ims on');
    expect(rules.some((r) => /^refresh_pattern -i \[\?&\]mmkey= .*ignore-reload/.test(r))).toBe(true);
  });
});

it('examples/dragonfly/dfdaemon.yaml: a proxy on 4001 with a CA for HTTPS, and rules that are regexes', async () => {
  const doc = parseYaml(await readFile(path.join(ROOT, 'examples', 'dragonfly', 'dfdaemon.yaml'), 'utf8')) as {
    proxy: { server: Record<string, unknown>; rules: { regex: string }[] };
  };
  expect(doc.proxy.server).toMatchObject({ port: 4001, caCert: expect.any(String), caKey: expect.any(String) });
  expect(doc.proxy.rules.length).toBe(3);
  for (const r of doc.proxy.rules) expect(() => new RegExp(r.regex)).not.toThrow();
});
