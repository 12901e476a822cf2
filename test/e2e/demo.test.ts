/** `npm run demo`: embedded FTP server + producer + watch; every hot swap printed; Ctrl-C ends it cleanly. */
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { run, start } from '../helpers/cli.js';

it('prints each hot swap and stops after N (MODEL_MONITOR_DEMO_SWAPS)', async () => {
  const r = await run(['demo'], { env: { MODEL_MONITOR_DEMO_SWAPS: '2' }, timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/hot swap #1: now serving .* demo model, version 1/);
  expect(r.stdout).toMatch(/hot swap #2: now serving .* demo model, version 2/);
});

it('Ctrl-C (SIGINT) stops server, producer and watch; exit 0; the temp dir is removed', async () => {
  const d = start(['demo']);
  await d.waitFor((l) => /hot swap #1/.test(l.msg), 'first hot swap');
  const tmp = /over (\S+)\/remote_path/.exec(d.stdout())?.[1];
  expect(tmp && existsSync(tmp)).toBe(true);
  expect(await d.stop('SIGINT')).toBe(0);
  expect(d.stdout()).toMatch(/stopped after \d+ hot swap/);
  expect(existsSync(tmp!)).toBe(false);
});
