// Preloaded (`node --expose-gc --import …`) into the CLI by deadline tests: a full
// garbage collection every 20 ms, so a deadline timer that could be collected is.
if (typeof globalThis.gc !== 'function') throw new Error('gc-pressure.mjs needs node --expose-gc');
setInterval(() => globalThis.gc(), 20).unref();
