/**
 * The wire engine the download tests run on: the real one (src/wire/, its
 * worker compiled under dist/ by `npm run build`, which `npm test` runs first).
 * test/helpers/inline-wire.ts is an in-thread stand-in for debugging a source
 * without the workers.
 */
import type { WireEngine } from '../../src/wire/engine.js';
import { createWireEngine } from '../../src/wire/pool.js';

export function testWire(): WireEngine {
  const engine = createWireEngine();
  if (!engine) throw new Error('no compiled wire worker (dist/wire/worker.js): run `npm run build` first');
  return engine;
}
