/** The README is the front door: it names every flag the CLI accepts, and the two set-up commands. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { allOptions } from '../../src/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

it('lists every flag, in both spellings', () => {
  const missing = allOptions()
    .flatMap((o) => [`--${o.name}`, `--${o.name.replace(/-/g, '_')}`])
    .filter((f) => !readme.includes(`\`${f}`) && !readme.includes(`${f} `));
  expect(missing).toEqual([]);
});

it('shows the demo and the test commands', () => {
  expect(readme).toContain('npm install && npm run demo');
  expect(readme).toContain('npm test');
});
