/**
 * The bench's own vitest config: `npm run bench` / `npm run bench:fleet`. Not
 * picked up by `npm test` (the main config includes test/**), long timeouts,
 * one file at a time, console output straight to the terminal.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['bench/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    fileParallelism: false,
    disableConsoleIntercept: true,
    reporters: ['default'],
  },
});
