/** Deterministic pseudo-random bytes (xorshift32): the same seed, the same buffer, fast. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 0x9e3779b9;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

/** `data` split into pieces of pseudo-random sizes in [1, max]. */
export function pieces(data: Buffer, max: number, seed = 7): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < data.length;) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = Math.min(data.length - at, 1 + (x % max));
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;
