/**
 * The second half of `npm run build` (after tsc): the CLI's own modules (~100
 * ESM files under dist/) bundled into a few files under dist/bundle/, which
 * bin/model-monitor.js runs. Node resolves, reads and links each ESM module
 * separately: one file instead of ~100 cut ~35 ms off every CLI run on 2 cores
 * (issue 18: the fixed cost of a run). Dependencies stay external (resolved
 * from node_modules as before); the dynamic imports (publish, demo, unpack,
 * the metrics server…) stay separate chunks, loaded only when used. The wire
 * and hash workers are entries of their own, beside the code that starts them
 * (pool.ts and hash-pool.ts find them next to themselves).
 */
export default {
  input: {
    cli: 'dist/cli.js',
    worker: 'dist/wire/worker.js',
    'hash-worker': 'dist/chunk/hash-worker.js',
  },
  platform: 'node',
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  },
  logLevel: 'warn',
};
