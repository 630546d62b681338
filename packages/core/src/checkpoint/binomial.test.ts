import { describe, expect, it } from 'vitest';
import { binomial, binomialRecomputations, BinomialSolver } from './binomial.js';
import { binomialPlan, planRecomputations } from './chain-plan.js';

/**
 * Exhaustive search over every reversal strategy in Griewank's model, with no
 * assumption about the shape of a good schedule: k slots hold step inputs
 * (x0 starts in one), one state is in hand, and the moves are advance (cost
 * 1), store, restore, drop, and reverse the next step when its input is in
 * hand. 0-1 breadth-first search gives the cheapest way to reverse all n steps.
 */
function bruteForce(n: number, k: number): number {
  const key = (mask: number, cur: number, left: number) => (mask * (n + 1) + (cur + 1)) * (n + 1) + left;
  const dist = new Map<number, number>();
  const deque: [number, number, number, number][] = [[1, 0, n, 0]];
  dist.set(key(1, 0, n), 0);
  const popcount = (m: number) => m.toString(2).replace(/0/g, '').length;
  while (deque.length) {
    const [mask, cur, left, d] = deque.shift()!;
    if (d > dist.get(key(mask, cur, left))!) continue;
    if (left === 0) return d;
    const relax = (m: number, c: number, l: number, cost: number) => {
      const kk = key(m, c, l);
      const nd = d + cost;
      if (nd < (dist.get(kk) ?? Infinity)) {
        dist.set(kk, nd);
        if (cost === 0) deque.unshift([m, c, l, nd]);
        else deque.push([m, c, l, nd]);
      }
    };
    if (cur >= 0 && cur < left - 1) relax(mask, cur + 1, left, 1);
    if (cur >= 0 && !(mask & (1 << cur)) && popcount(mask) < k) relax(mask | (1 << cur), cur, left, 0);
    for (let s = 0; s < left; s++) {
      if (!(mask & (1 << s))) continue;
      relax(mask, s, left, 0);
      relax(mask & ~(1 << s), cur, left, 0);
    }
    if (cur === left - 1) relax(mask & ((1 << (left - 1)) - 1), -1, left - 1, 0);
  }
  return Infinity;
}

describe('binomial checkpointing', () => {
  it('C(n, k) matches Pascal’s triangle', () => {
    for (let n = 0; n < 20; n++) {
      for (let k = 1; k < n; k++) expect(binomial(n, k)).toBe(binomial(n - 1, k - 1) + binomial(n - 1, k));
      expect(binomial(n, 0)).toBe(1);
      expect(binomial(n, n)).toBe(1);
    }
  });

  it('the closed form equals an exhaustive search over all strategies (n <= 9, k <= 4)', () => {
    for (let n = 1; n <= 9; n++) {
      for (let k = 1; k <= 4; k++) expect(bruteForce(n, k), `n=${n} k=${k}`).toBe(binomialRecomputations(n, k));
    }
  });

  it('known corner values: one slot costs n(n-1)/2, n-1 slots cost n-1', () => {
    for (let n = 2; n <= 32; n++) {
      expect(binomialRecomputations(n, 1)).toBe((n * (n - 1)) / 2);
      expect(binomialRecomputations(n, n - 1)).toBe(n - 1);
    }
  });

  it('the split table and the plans built from it are optimal for n <= 32, k <= 6', () => {
    const solver = new BinomialSolver(32, 6);
    for (let n = 1; n <= 32; n++) {
      for (let k = 1; k <= 6; k++) {
        const formula = binomialRecomputations(n, k);
        expect(solver.recomputations(n, k), `dp n=${n} k=${k}`).toBe(formula);
        const plan = binomialPlan(n, k);
        expect(planRecomputations(plan), `plan n=${n} k=${k}`).toBe(formula);
        // Every segment but the last reads a re-evaluation in its backward.
        expect(plan.tapeOf.slice(0, -1).every((t) => t !== null)).toBe(true);
        expect(plan.tapeOf[n - 1]).toBe(null);
      }
    }
  });
});
