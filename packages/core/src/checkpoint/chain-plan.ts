import { BinomialSolver } from './binomial.js';

/**
 * One re-evaluation of a segment in the backward pass. `from` is the instance
 * of the previous segment whose outputs it reads, or null for the values of
 * the original forward pass (which then stay alive: a stored checkpoint).
 */
export interface SegmentInstance {
  readonly segment: number;
  readonly from: number | null;
}

/**
 * How a chain of segments is reversed: the extra evaluations to make, in
 * creation order, and for each segment which evaluation's internals its
 * backward reads (null: the original forward's, kept alive).
 */
export interface ChainPlan {
  readonly instances: readonly SegmentInstance[];
  readonly tapeOf: readonly (number | null)[];
  /** Evaluations that do not save the matmul-like ops (the `save-matmuls` policy) reuse the originals of those. */
  readonly saveMatmuls: boolean;
}

class PlanBuilder {
  readonly instances: SegmentInstance[] = [];
  readonly tapeOf: (number | null)[];
  constructor(n: number) {
    this.tapeOf = new Array<number | null>(n).fill(null);
  }
  add(segment: number, from: number | null): number {
    this.instances.push({ segment, from });
    return this.instances.length - 1;
  }
  done(saveMatmuls = false): ChainPlan {
    return { instances: this.instances, tapeOf: this.tapeOf, saveMatmuls };
  }
}

/** Keep every segment's internals: no recomputation. */
export function keepAllPlan(n: number): ChainPlan {
  return new PlanBuilder(n).done();
}

/**
 * Chen et al.'s scheme: store the input of every group of `k` segments; before
 * a group's backward, recompute the whole group from that input keeping its
 * internals. The last group's backward follows its forward, so it is kept.
 */
export function groupPlan(n: number, k: number): ChainPlan {
  const b = new PlanBuilder(n);
  const lastGroupStart = Math.floor((n - 1) / k) * k;
  for (let start = 0; start < lastGroupStart; start += k) {
    let prev: number | null = null;
    for (let s = start; s < Math.min(start + k, n); s++) {
      prev = b.add(s, prev);
      b.tapeOf[s] = prev;
    }
  }
  return b.done();
}

/**
 * Selective recomputation: each segment but the last recomputes its cheap ops
 * from its stored input before its backward; matmul-like outputs stay saved.
 */
export function saveMatmulsPlan(n: number): ChainPlan {
  const b = new PlanBuilder(n);
  for (let s = 0; s < n - 1; s++) b.tapeOf[s] = b.add(s, null);
  return b.done(true);
}

/**
 * The binomial (revolve) schedule for `slots` slots: optimal in extra segment
 * evaluations. Along the first forward sweep advancing is free (the original
 * forward runs anyway) and the last segment's internals are its own tape.
 */
export function binomialPlan(n: number, slots: number): ChainPlan {
  const b = new PlanBuilder(n);
  const k = Math.min(slots, n);
  const solver = new BinomialSolver(n, k);
  // The revolve recursion run with an explicit stack (depth would grow with the number of segments).
  // Each call only does work before its two sub-calls, so pushing them in reverse order keeps the order.
  const stack: { start: number | null; first: number; steps: number; freeSlots: number; original: boolean }[] = [
    { start: null, first: 0, steps: n, freeSlots: k, original: true },
  ];
  while (stack.length > 0) {
    const { start, first, steps, freeSlots, original } = stack.pop()!;
    if (steps === 1) {
      if (!original) b.tapeOf[first] = b.add(first, start);
      continue;
    }
    const m = solver.firstSplit(steps, freeSlots);
    let state = start;
    if (!original) for (let s = first; s < first + m; s++) state = b.add(s, state);
    stack.push({ start, first, steps: m, freeSlots, original: false });
    stack.push({ start: state, first: first + m, steps: steps - m, freeSlots: freeSlots - 1, original });
  }
  return b.done();
}

/** Extra segment evaluations a plan makes. */
export const planRecomputations = (plan: ChainPlan): number => plan.instances.length;
