// Combination rules of PEFT's utils/merge_utils.py, on flat float64 tensors of one shape.
import { rng } from '@lowrank/core';
import { MergeError } from '../errors.js';

export type MajoritySignMethod = 'total' | 'frequency';

function checkDensity(density: number | undefined): number {
  if (density === undefined || !(density >= 0)) throw new MergeError(`density must be a number in [0, 1] for this combination type, got ${density}`);
  return density;
}

/** Keeps the ⌊density·n⌋ largest magnitudes, zeroes the rest. */
export function magnitudePruning(t: Float64Array, density: number): Float64Array {
  if (density >= 1) return t.slice();
  const k = Math.floor(density * t.length);
  const order = Array.from(t.keys()).sort((a, b) => Math.abs(t[b]) - Math.abs(t[a]) || a - b);
  const out = new Float64Array(t.length);
  for (let i = 0; i < k; i++) out[order[i]] = t[order[i]];
  return out;
}

/** Keeps each value with probability `density` (seeded), rescaled by 1/density (DARE). */
export function randomPruning(t: Float64Array, density: number, seed: number, key: string): Float64Array {
  if (density >= 1) return t.slice();
  const stream = rng.streamWord(seed, 0, rng.stringKey(key));
  return t.map((v, i) => (rng.uniformAt(stream, i) < density ? v / density : 0));
}

export function weightedSum(ts: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const out = new Float64Array(ts[0].length);
  ts.forEach((t, k) => {
    for (let i = 0; i < out.length; i++) out[i] += weights[k] * t[i];
  });
  return out;
}

/** Elects a sign per element (sum of values, or count of signs) and averages the weighted values that agree with it. */
export function disjointMerge(ts: readonly Float64Array[], weights: readonly number[], method: MajoritySignMethod): Float64Array {
  const n = ts[0].length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let magnitude = 0;
    for (const t of ts) magnitude += method === 'total' ? t[i] : Math.sign(t[i]);
    const majority = magnitude >= 0 ? 1 : -1;
    let sum = 0;
    let kept = 0;
    ts.forEach((t, k) => {
      if (Math.sign(t[i]) === majority) {
        sum += weights[k] * t[i];
        kept++;
      }
    });
    out[i] = sum / Math.max(kept, 1);
  }
  return out;
}

export type TaskCombination = 'linear' | 'ties' | 'dare_linear' | 'dare_ties' | 'magnitude_prune';

export interface CombineOptions {
  density?: number;
  majoritySignMethod?: MajoritySignMethod;
  /** Seed of DARE's random pruning. */
  seed?: number;
  /** Distinguishes the random streams of different tensors. */
  key?: string;
}

/** One of PEFT's task-vector combinations of same-shaped tensors with per-tensor weights. */
export function combineTasks(kind: TaskCombination, ts: readonly Float64Array[], weights: readonly number[], opts: CombineOptions = {}): Float64Array {
  const method = opts.majoritySignMethod ?? 'total';
  const seed = opts.seed ?? 0;
  const key = opts.key ?? '';
  switch (kind) {
    case 'linear':
      return weightedSum(ts, weights);
    case 'magnitude_prune': {
      const d = checkDensity(opts.density);
      return weightedSum(ts.map((t) => magnitudePruning(t, d)), weights);
    }
    case 'ties': {
      const d = checkDensity(opts.density);
      return disjointMerge(ts.map((t) => magnitudePruning(t, d)), weights, method);
    }
    case 'dare_linear': {
      const d = checkDensity(opts.density);
      return weightedSum(ts.map((t, k) => randomPruning(t, d, seed, `${key}#${k}`)), weights);
    }
    case 'dare_ties': {
      const d = checkDensity(opts.density);
      return disjointMerge(ts.map((t, k) => randomPruning(t, d, seed, `${key}#${k}`)), weights, method);
    }
  }
}
