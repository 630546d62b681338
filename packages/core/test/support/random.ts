import { seededUniform } from '../../src/rng/seeded-uniform.js';
/** Seeded host-side PRNG (mulberry32); one implementation in core. */
export const seededRandom = seededUniform;

/** n values uniform in [-scale, scale]. */
export function randomValues(rand: () => number, n: number, scale = 1): number[] {
  return Array.from({ length: n }, () => (2 * rand() - 1) * scale);
}
