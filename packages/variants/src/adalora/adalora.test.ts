import { evaluate, Graph, Linear, NDArray, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { feedsOf, randomArray, TinyNet } from '../test-support.js';
import { prunedAdaLoraState } from './allocator.js';
import { applyAdaLora, initialAdaLoraState, orthogonalRegularizer } from './apply.js';
import { budgetAt, resolveAdaLoraConfig } from './config.js';
import { survivesDrop } from './importance-graph.js';

const IN = 5;
const OUT = 4;

function setup(rankPattern?: Record<string, boolean[]>) {
  const net = new TinyNet({ proj: new Linear(IN, OUT, { bias: false }), other: new Linear(IN, OUT, { bias: false }) });
  const applied = applyAdaLora(net, { init_r: 3, target_r: 1, lora_alpha: 6, target_modules: ['proj'], total_step: 10, rank_pattern: rankPattern ?? null });
  return { net, applied };
}

describe('AdaLoRA', () => {
  it("computes W·x + B·((A⊙E)·x)·alpha/(init_r + 1e-5) (PEFT's SVDLinear)", () => {
    const { net, applied } = setup();
    expect(applied.layers.map((l) => l.path)).toEqual(['proj']);
    const w = new Map<string, HostTensor>([
      ['proj.weight', { shape: [OUT, IN], dtype: 'f32', data: Float32Array.from(randomArray([OUT, IN], 1).data) }],
      ['proj.lora_A', { shape: [3, IN], dtype: 'f32', data: Float32Array.from(randomArray([3, IN], 2).data) }],
      ['proj.lora_B', { shape: [OUT, 3], dtype: 'f32', data: Float32Array.from(randomArray([OUT, 3], 3).data) }],
      ['proj.lora_E', { shape: [3, 1], dtype: 'f32', data: Float32Array.of(0.5, -2, 0) }],
    ]);
    const g = new Graph();
    g.output('y', net.call('proj', g.input('x', [2, IN])));
    const x = randomArray([2, IN], 4);
    const y = evaluate(g, { ...feedsOf(w), x }).get('y')!.data;
    const d = (n: string) => w.get(n)!.data;
    for (let n = 0; n < 2; n++) {
      for (let o = 0; o < OUT; o++) {
        let want = 0;
        for (let i = 0; i < IN; i++) want += d('proj.weight')[o * IN + i] * x.data[n * IN + i];
        for (let k = 0; k < 3; k++) {
          let ax = 0;
          for (let i = 0; i < IN; i++) ax += d('proj.lora_A')[k * IN + i] * d('proj.lora_E')[k] * x.data[n * IN + i];
          want += (d('proj.lora_B')[o * 3 + k] * ax * 6) / (3 + 1e-5);
        }
        expect(y[n * OUT + o]).toBeCloseTo(want, 5);
      }
    }
  });

  it("initialises E to zero and A, B with std 0.02 (PEFT's reset)", () => {
    const { applied } = setup();
    const s = initialAdaLoraState(applied, 3);
    expect(Array.from(s.get('proj.lora_E')!.data)).toEqual([0, 0, 0]);
    const a = Array.from(s.get('proj.lora_A')!.data);
    const std = Math.sqrt(a.reduce((t, v) => t + v * v, 0) / a.length);
    expect(std).toBeGreaterThan(0.005);
    expect(std).toBeLessThan(0.05);
  });

  it('orthogonality regularizer is the mean of ||AAᵀ - I||_F and ||BᵀB - I||_F', () => {
    const { net, applied } = setup();
    const g = new Graph();
    net.call('proj', g.input('x', [1, IN]));
    g.output('reg', orthogonalRegularizer(g, applied)!);
    const A = randomArray([3, IN], 5);
    const B = randomArray([OUT, 3], 6);
    const feeds = { 'proj.weight': randomArray([OUT, IN], 1), 'proj.lora_A': A, 'proj.lora_B': B, 'proj.lora_E': randomArray([3, 1], 7), x: randomArray([1, IN], 8) };
    const reg = evaluate(g, feeds).get('reg')!.data[0];
    const fro = (m: (i: number, j: number) => number) => {
      let s = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += (m(i, j) - (i === j ? 1 : 0)) ** 2;
      return Math.sqrt(s);
    };
    const aat = fro((i, j) => Array.from({ length: IN }, (_, k) => A.data[i * IN + k] * A.data[j * IN + k]).reduce((p, q) => p + q));
    const btb = fro((i, j) => Array.from({ length: OUT }, (_, k) => B.data[k * 3 + i] * B.data[k * 3 + j]).reduce((p, q) => p + q));
    expect(reg).toBeCloseTo((aat + btb) / 2, 9);
  });

  it('budget schedule: init budget through tinit, cubic decrease, target after total_step - tfinal', () => {
    const c = resolveAdaLoraConfig({ init_r: 12, target_r: 8, tinit: 10, tfinal: 10, deltaT: 5, total_step: 100 });
    // Two layers: budgets 24 → 16. Values worked by hand from PEFT's formula.
    expect(budgetAt(c, 2, 10)).toEqual({ budget: 24, mask: false });
    expect(budgetAt(c, 2, 20)).toEqual({ budget: 21, mask: true }); // 8·0.875³ + 16 = 21.36
    expect(budgetAt(c, 2, 21)).toEqual({ budget: 21, mask: false }); // 8·0.8625³ + 16 = 21.13
    expect(budgetAt(c, 2, 55)).toEqual({ budget: 16, mask: true }); // 8·0.4375³ + 16 = 16.67
    expect(budgetAt(c, 2, 90)).toEqual({ budget: 16, mask: true });
    expect(budgetAt(c, 2, 91)).toEqual({ budget: 16, mask: true });
    expect(() => resolveAdaLoraConfig({ init_r: 4, target_r: 6 })).toThrow(/target_r/);
    expect(() => resolveAdaLoraConfig({ tinit: 50, tfinal: 50, total_step: 100 })).toThrow(/tinit/);
  });

  it('the in-graph top-k keeps what the sort-and-threshold rule keeps, ties included', () => {
    // The host rule it replaces: drop every score <= the drop-th smallest.
    const hostKeep = (scores: number[], drop: number) => {
      const sorted = [...scores].sort((x, y) => x - y);
      const threshold = drop > 0 ? sorted[drop - 1] : -Infinity;
      return scores.map((v) => !(v <= threshold));
    };
    const cases: number[][] = [[3, 1, 1, 2], [0, 0, 0, 5], Array.from(randomArray([12], 9).data, (v) => Math.round(v * 4) / 4)];
    for (const scores of cases) {
      for (let drop = 0; drop <= scores.length; drop++) {
        const g = new Graph();
        g.output('keep', survivesDrop(g.input('s', [scores.length]), g.input('k', [])));
        const got = evaluate(g, { s: new NDArray([scores.length], 'f32', Float64Array.from(scores)), k: new NDArray([], 'f32', Float64Array.of(drop)) }).get('keep')!.data;
        expect(Array.from(got, Boolean), `${JSON.stringify(scores)} drop ${drop}`).toEqual(hostKeep(scores, drop));
      }
    }
  });

  it('saving removes pruned triplets; a rank_pattern recreates the layer at the kept rank with the original scale', () => {
    const { applied } = setup();
    const t = (shape: number[]): HostTensor => ({ shape, dtype: 'f32', data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => i + 1) });
    const trained = { 'proj.lora_A': t([3, IN]), 'proj.lora_B': t([OUT, 3]), 'proj.lora_E': t([3, 1]) };
    const { tensors, rankPattern } = prunedAdaLoraState(applied, trained, { 'proj.lora_E': [true, false, true] });
    expect(rankPattern).toEqual({ 'proj.lora_E': [true, false, true] });
    expect(Array.from(tensors['proj.lora_E'].data)).toEqual([1, 3]);
    expect(Array.from(tensors['proj.lora_A'].data)).toEqual([1, 2, 3, 4, 5, 11, 12, 13, 14, 15]);
    expect(Array.from(tensors['proj.lora_B'].data)).toEqual([1, 3, 4, 6, 7, 9, 10, 12]);
    const re = setup(rankPattern).applied.layers[0];
    expect([re.r, re.ranknum]).toEqual([2, 3]);
    expect(re.scaling).toBeCloseTo(6 / (3 + 1e-5), 12);
  });
});
