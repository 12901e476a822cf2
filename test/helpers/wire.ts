/**
 * The wire engine the download tests run on: one place to switch from the
 * in-thread test engine (inline-wire.ts) to the real one (src/wire/).
 */
import type { WireEngine } from '../../src/wire/engine.js';
import { inlineWire } from './inline-wire.js';

export function testWire(): WireEngine {
  return inlineWire();
}
