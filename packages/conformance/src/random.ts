import { seededUniform, type DType } from '@lowrank/core';

/** Seeded host-side PRNG (mulberry32); one implementation in core. */
export const seededRandom = seededUniform;

/**
 * How the elements of an input are drawn. Each kind keeps an op inside the
 * region where float32 and float64 agree closely (no ties for max, no zero
 * denominators, no values at relu's kink).
 */
export type ValueKind =
  | { readonly kind: 'uniform'; readonly lo: number; readonly hi: number }
  /** |v| in [lo, hi] with a random sign. */
  | { readonly kind: 'awayFromZero'; readonly lo: number; readonly hi: number }
  /** Pairwise distinct values, spaced by `gap`. */
  | { readonly kind: 'distinct'; readonly gap: number }
  /** k·0.1 + offset for integer k in [-20, 20]: two grids with different offsets never tie. */
  | { readonly kind: 'grid'; readonly offset: number }
  | { readonly kind: 'int'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'bool' }
  /** Class labels in [0, vocab), about a fifth of them the ignore index -100. */
  | { readonly kind: 'labels'; readonly vocab: number };

export function drawValues(kind: ValueKind, n: number, dtype: DType, rand: () => number): number[] {
  const raw = drawRaw(kind, n, rand);
  return dtype === 'f32' ? raw.map(Math.fround) : raw;
}

function drawRaw(v: ValueKind, n: number, rand: () => number): number[] {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  switch (v.kind) {
    case 'uniform':
      return Array.from({ length: n }, () => v.lo + (v.hi - v.lo) * rand());
    case 'awayFromZero':
      return Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1) * (v.lo + (v.hi - v.lo) * rand()));
    case 'distinct': {
      // A shuffled run of n grid points centred on 0.
      const pts = Array.from({ length: n }, (_, i) => (i - (n - 1) / 2) * v.gap);
      for (let i = n - 1; i > 0; i--) {
        const j = int(0, i);
        [pts[i], pts[j]] = [pts[j], pts[i]];
      }
      return pts;
    }
    case 'grid':
      return Array.from({ length: n }, () => int(-20, 20) * 0.1 + v.offset);
    case 'int':
      return Array.from({ length: n }, () => int(v.lo, v.hi));
    case 'bool':
      return Array.from({ length: n }, () => int(0, 1));
    case 'labels':
      return Array.from({ length: n }, () => (rand() < 0.2 ? -100 : int(0, v.vocab - 1)));
  }
}
