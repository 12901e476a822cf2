/**
 * `npm run bench:serve`: the bench's servers, kept up on the bench model for
 * A/B runs by hand (a change's effect on one protocol without a whole
 * `npm run bench`). MM_SERVE picks them (names containing any of the
 * comma-separated words, default nginx); each one's mmArgs and peer commands
 * are written to <MM_SERVE_DIR>/targets.json; `touch <MM_SERVE_DIR>/stop`
 * ends them. The model is built under MM_SERVE_DIR (default /tmp/mmserve).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'vitest';
import { buildDataset } from './data.js';
import { protocols, type Target } from './peers.js';

it(
  'serve the bench model until told to stop',
  async () => {
    const dir = process.env.MM_SERVE_DIR ?? '/tmp/mmserve';
    await mkdir(dir, { recursive: true });
    const data = await buildDataset(path.join(dir, 'data'));
    const want = (process.env.MM_SERVE ?? 'nginx').toLowerCase().split(',');
    const up: [string, Target][] = [];
    try {
      for (const p of protocols.filter((x) => want.some((w) => x.name.toLowerCase().includes(w)))) up.push([p.name, await p.start(data)]);
      const targets = Object.fromEntries(
        up.map(([name, t]) => [name, { mmArgs: t.mmArgs, peers: t.peers.map((x) => ({ label: x.label, cmd: x.cmd('DEST') })) }]),
      );
      await writeFile(path.join(dir, 'targets.json'), JSON.stringify(targets, null, 1));
      console.log(`serving ${up.map(([n]) => n).join(', ')}: ${path.join(dir, 'targets.json')}; touch ${path.join(dir, 'stop')} to end`);
      while (!existsSync(path.join(dir, 'stop'))) await new Promise((r) => setTimeout(r, 500));
    } finally {
      for (const [, t] of up) await t.stop().catch(() => {});
    }
  },
  24 * 3600_000,
);
