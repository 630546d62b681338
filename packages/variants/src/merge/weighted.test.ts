import { Linear, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { adapterConfigs, applyAdapters, loraLayers } from '../apply.js';
import { matmul, matrix, type Matrix } from '../linalg/matrix.js';
import { jacobiSvd } from '../linalg/svd.js';
import { initialAdapterState } from '../lora/init.js';
import { randomArray, TinyNet } from '../test-support.js';
import { combineTasks, disjointMerge, magnitudePruning, randomPruning } from './merge-utils.js';
import { addWeightedAdapter } from './weighted.js';

const IN = 12;
const OUT = 10;

/** Two rank-2 adapters (scalings 2 and 1) and one rank-3 adapter (scaling 0.5) on one layer. */
function setup() {
  const net = new TinyNet({ proj: new Linear(IN, OUT, { bias: false }) });
  const base = new Map<string, HostTensor>([['proj.weight', { shape: [OUT, IN], dtype: 'f32', data: Float32Array.from(randomArray([OUT, IN], 1).data) }]]);
  applyAdapters(net, { r: 2, lora_alpha: 4, target_modules: ['proj'], init_lora_weights: false }, 'a');
  applyAdapters(net, { r: 2, lora_alpha: 2, target_modules: ['proj'], init_lora_weights: false }, 'b');
  applyAdapters(net, { r: 4, lora_alpha: 2, target_modules: ['proj'], init_lora_weights: false }, 'c');
  const weights = new Map([...base, ...initialAdapterState(net, base, { seed: 9 })]);
  return { net, weights, layer: loraLayers(net).get('proj')! };
}

function factors(w: Map<string, HostTensor>, name: string, r: number): { a: Matrix; b: Matrix } {
  const sfx = name === 'default' ? '' : `.${name}`;
  return { a: matrix(r, IN, w.get(`proj.lora_A${sfx}.weight`)!.data), b: matrix(OUT, r, w.get(`proj.lora_B${sfx}.weight`)!.data) };
}

/** s·B·A of adapter `name` from stored values. */
function delta(w: Map<string, HostTensor>, name: string, r: number, s: number): Matrix {
  const f = factors(w, name, r);
  const d = matmul(f.b, f.a);
  return matrix(OUT, IN, d.data.map((v) => v * s));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function diff(a: Matrix, b: Matrix): number {
  return maxAbs(a.data.map((v, i) => v - b.data[i]));
}

describe('addWeightedAdapter', () => {
  it('cat: the new adapter (rank = Σr, scaling 1) equals the weighted sum of deltas', () => {
    const { net, weights, layer } = setup();
    const res = addWeightedAdapter(net, weights, { adapters: ['a', 'b'], weights: [0.5, 2], name: 'cat', combinationType: 'cat' });
    expect(res.rank).toBe(4);
    expect(layer.adapters.get('cat')!.scaling).toBe(1);
    expect(adapterConfigs(net).get('cat')).toMatchObject({ r: 4, lora_alpha: 4, target_modules: ['proj'], rank_pattern: {} });
    const got = delta(res.weights, 'cat', 4, 1);
    const want = matrix(OUT, IN);
    const da = delta(weights, 'a', 2, 2);
    const db = delta(weights, 'b', 2, 1);
    for (let i = 0; i < want.data.length; i++) want.data[i] = 0.5 * da.data[i] + 2 * db.data[i];
    // Weights and scalings are powers of two, so the only difference is float64 summation order.
    expect(diff(got, want)).toBeLessThanOrEqual(1e-15 * maxAbs(want.data) * 8);
  });

  it('linear: A and B are the √(w·s)-weighted sums (PEFT), ranks must agree', () => {
    const { net, weights } = setup();
    const res = addWeightedAdapter(net, weights, { adapters: ['a', 'b'], weights: [0.5, 2], name: 'lin', combinationType: 'linear' });
    const fa = factors(weights, 'a', 2);
    const fb = factors(weights, 'b', 2);
    const got = factors(res.weights, 'lin', 2);
    const [ca, cb] = [Math.sqrt(0.5 * 2), Math.sqrt(2 * 1)];
    for (let i = 0; i < got.a.data.length; i++) expect(got.a.data[i]).toBeCloseTo(ca * fa.a.data[i] + cb * fb.a.data[i], 6);
    for (let i = 0; i < got.b.data.length; i++) expect(got.b.data[i]).toBeCloseTo(ca * fa.b.data[i] + cb * fb.b.data[i], 6);
    expect(() => addWeightedAdapter(net, weights, { adapters: ['a', 'c'], weights: [1, 1], name: 'bad', combinationType: 'linear' })).toThrow(/one rank, got ranks 2, 4/);
  });

  it('svd: the result is the best rank-k approximation of Σ w·s·ΔW (dense SVD check)', () => {
    for (const k of [2, 3, 8]) {
      const { net, weights } = setup();
      const res = addWeightedAdapter(net, weights, { adapters: ['a', 'b', 'c'], weights: [1, -0.7, 0.4], name: 'svd', combinationType: 'svd', svdRank: k });
      // PEFT weights each delta (which already includes its scaling) by w·s.
      const target = matrix(OUT, IN);
      for (const [name, r, s, w] of [['a', 2, 2, 1], ['b', 2, 1, -0.7], ['c', 4, 0.5, 0.4]] as const) {
        const d = delta(weights, name, r, s);
        for (let i = 0; i < target.data.length; i++) target.data[i] += w * s * d.data[i];
      }
      const dense = jacobiSvd(target);
      const best = matrix(OUT, IN);
      for (let j = 0; j < Math.min(k, dense.s.length); j++) {
        for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) best.data[o * IN + i] += dense.u.data[o * dense.u.cols + j] * dense.s[j] * dense.v.data[i * dense.v.cols + j];
      }
      const got = delta(res.weights, 'svd', k, 1);
      expect(diff(got, best)).toBeLessThan(1e-6 * maxAbs(best.data));
      if (k === 8) expect(diff(got, target)).toBeLessThan(1e-6 * maxAbs(target.data));
      else expect(diff(got, target)).toBeGreaterThan(1e-4 * maxAbs(target.data));
    }
  });

  it('ties_svd, dare_ties_svd, magnitude_prune_svd and dare_linear give rank-k adapters; density is required', () => {
    const { net, weights } = setup();
    for (const combinationType of ['ties_svd', 'dare_ties_svd', 'magnitude_prune_svd', 'dare_linear_svd'] as const) {
      const res = addWeightedAdapter(net, weights, { adapters: ['a', 'c'], weights: [1, 1], name: combinationType, combinationType, density: 0.5, svdRank: 3 });
      expect(res.weights.get(`proj.lora_A.${combinationType}.weight`)!.shape).toEqual([3, IN]);
      expect(maxAbs(res.weights.get(`proj.lora_B.${combinationType}.weight`)!.data)).toBeGreaterThan(0);
    }
    expect(() => addWeightedAdapter(net, weights, { adapters: ['a', 'b'], weights: [1, 1], name: 'ties', combinationType: 'ties' })).toThrow(/density must be a number/);
    const t = addWeightedAdapter(net, weights, { adapters: ['a', 'b'], weights: [1, 1], name: 'dl', combinationType: 'dare_linear', density: 0.7, seed: 3 });
    expect(t.rank).toBe(2);
  });
});

describe('merge utils (PEFT semantics)', () => {
  it('magnitude pruning keeps the ⌊density·n⌋ largest magnitudes', () => {
    expect(Array.from(magnitudePruning(Float64Array.of(0.1, -3, 2, -0.5, 1), 0.6))).toEqual([0, -3, 2, 0, 1]);
    expect(Array.from(magnitudePruning(Float64Array.of(1, 2), 1))).toEqual([1, 2]);
  });

  it('ties: elected sign by total vs frequency, average of the agreeing weighted values', () => {
    const ts = [Float64Array.of(3), Float64Array.of(-1), Float64Array.of(-1)];
    // total: 3 - 1 - 1 = 1 > 0, positive wins: only the first (weighted 2·3) is kept.
    expect(disjointMerge(ts, [2, 1, 1], 'total')[0]).toBe(6);
    // frequency: two negatives win: (-1 - 1) / 2.
    expect(disjointMerge(ts, [2, 1, 1], 'frequency')[0]).toBe(-1);
    // magnitude prune first (density 1: nothing pruned), then the same election.
    expect(combineTasks('ties', ts, [2, 1, 1], { density: 1, majoritySignMethod: 'frequency' })[0]).toBe(-1);
  });

  it('DARE drops about 1 - density of the values and rescales the rest by 1/density', () => {
    const t = new Float64Array(4000).fill(1);
    const pruned = randomPruning(t, 0.3, 5, 'k');
    const kept = pruned.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.3) < 1e-12)).toBe(true);
    expect(kept.length / t.length).toBeGreaterThan(0.27);
    expect(kept.length / t.length).toBeLessThan(0.33);
  });
});
