/**
 * Counter-based randomness: every random number is a pure function of
 * (seed, step, key, element index), so a dropout mask is the same on every
 * backend, after a resume, and when a checkpointed segment is recomputed.
 * Only 32-bit xor, shift and wrapping multiply are used, which every backend
 * (ONNX integer ops, WGSL u32) can express exactly.
 */

/** An avalanche mix of a 32-bit word (xor-shift / multiply rounds). */
export function mix32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The per-(seed, step, key) stream word; element i then draws mix32(stream ^ mix32(i)). */
export function streamWord(seed: number, step: number, key: number): number {
  return mix32(mix32(mix32(seed ^ 0x5bd1e995) ^ step) ^ key);
}

/** Uniform in [0, 1) with 24 random bits, exactly representable in float32. */
export function uniformAt(stream: number, index: number): number {
  return (mix32((stream ^ mix32(index)) >>> 0) >>> 8) / 16777216;
}

/** A stable 32-bit key from a string (FNV-1a), used to key random nodes by module path. */
export function stringKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
