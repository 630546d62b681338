/**
 * Binomial checkpointing (Griewank and Walther, "Algorithm 799: revolve").
 *
 * A chain of n steps is reversed with k slots that hold step inputs (the
 * chain's own input takes one). Each step's internals (its "tape") are never
 * stored across steps: a step is re-evaluated with its tape right before its
 * backward, except the last, whose backward follows its forward at once.
 * Counted in extra step evaluations beyond the one forward sweep, the optimum
 * is r·n − C(k + r, k + 1), r the smallest integer with C(k + r, k) ≥ n.
 */

/** C(n, k) for the small arguments used here (exact up to 2^53). */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= Math.min(k, n - k); i++) r = (r * (n - i + 1)) / i;
  return Math.round(r);
}

/** The closed form: minimum extra step evaluations to reverse `steps` steps with `slots` slots. */
export function binomialRecomputations(steps: number, slots: number): number {
  assertChain(steps, slots);
  if (steps === 1) return 0;
  let r = 0;
  while (binomial(slots + r, slots) < steps) r++;
  return r * steps - binomial(slots + r, slots + 1);
}

/** The fewest slots that reverse `steps` steps at all (1: the chain input's own slot). */
export const MIN_SLOTS = 1;

function assertChain(steps: number, slots: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`a chain needs an integer number of steps >= 1, got ${steps}`);
  if (!Number.isInteger(slots) || slots < MIN_SLOTS) throw new RangeError(`binomial checkpointing needs an integer number of slots >= ${MIN_SLOTS}, got ${slots}`);
}

/**
 * Optimal split table by dynamic programming over the revolve recursion:
 * to reverse n steps from a stored input with k slots, advance m steps,
 * store that state, reverse the last n − m steps with k − 1 slots, then the
 * first m with k slots again. cost(1, k) = 0 (the tape is taken with the
 * step's own backward), cost(n ≥ 2, 0) = ∞.
 */
export class BinomialSolver {
  private readonly cost: number[][] = [];
  private readonly split: number[][] = [];

  constructor(
    readonly maxSteps: number,
    readonly maxSlots: number,
  ) {
    assertChain(maxSteps, maxSlots);
    for (let k = 0; k <= maxSlots; k++) {
      this.cost.push(new Array<number>(maxSteps + 1).fill(Infinity));
      this.split.push(new Array<number>(maxSteps + 1).fill(0));
      this.cost[k][1] = 0;
    }
    for (let n = 2; n <= maxSteps; n++) {
      for (let k = 1; k <= maxSlots; k++) {
        let best = Infinity;
        let bestM = 0;
        for (let m = 1; m < n; m++) {
          const c = m + this.cost[k - 1][n - m] + this.cost[k][m];
          if (c < best) [best, bestM] = [c, m];
        }
        this.cost[k][n] = best;
        this.split[k][n] = bestM;
      }
    }
  }

  /** Minimum extra step evaluations (the revolve cost) for n steps and k slots. */
  recomputations(steps: number, slots: number): number {
    return this.cost[this.clampSlots(slots)][steps];
  }

  /** Steps to advance before storing the next state, in an optimal schedule. */
  firstSplit(steps: number, slots: number): number {
    return this.split[this.clampSlots(slots)][steps];
  }

  private clampSlots(slots: number): number {
    return Math.min(slots, this.maxSlots);
  }
}
