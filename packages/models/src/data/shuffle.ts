import { seededUniform } from '@lowrank/core';
import { DatasetError } from './errors.js';

/** Seeded host-side PRNG (mulberry32); one implementation in core. */
export const seededRandom = seededUniform;

/** A Fisher-Yates permutation of 0..n-1 from `seed`. */
export function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  const r = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * Splits items into train and validation sets after a seeded shuffle, so the
 * split does not follow file order. At least one item lands on each side.
 */
export function trainValidationSplit<T>(items: readonly T[], validationFraction: number, seed: number): { train: T[]; validation: T[] } {
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new DatasetError(`validation fraction must be in (0, 1), got ${validationFraction}`);
  }
  if (items.length < 2) throw new DatasetError(`cannot split ${items.length} example(s) into train and validation; add data or pass a separate validation file`);
  const order = permutation(items.length, seed ^ 0x5eed);
  const nVal = Math.min(items.length - 1, Math.max(1, Math.round(items.length * validationFraction)));
  return { validation: order.slice(0, nVal).map((i) => items[i]), train: order.slice(nVal).map((i) => items[i]) };
}
