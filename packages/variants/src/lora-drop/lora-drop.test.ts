import { evaluate, Graph, Linear, NDArray, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters, setAdapterTraining } from '../apply.js';
import { feedsOf, randomArray, TinyNet } from '../test-support.js';
import { expandSharedAdapter, loraDropParameters, selectLayers, sharedParamName, shareDroppedLayers } from './layer-selection.js';
import { applyRankDropout } from './rank-dropout.js';

const IN = 6;
const R = 4;
const P = 0.5;

describe('rank dropout', () => {
  // B = I and W = 0, so the layer's output is exactly (alpha/r)·mask⊙(x·Aᵀ).
  function run(training: boolean, seed: number, step: number) {
    const net = new TinyNet({ proj: new Linear(IN, R, { bias: false }) });
    applyAdapters(net, { r: R, lora_alpha: R, target_modules: ['proj'] });
    applyRankDropout(net, P);
    setAdapterTraining(net, training);
    const eye = new Float32Array(R * R).map((_, i) => (i % (R + 1) === 0 ? 1 : 0));
    const w = new Map<string, HostTensor>([
      ['proj.weight', { shape: [R, IN], dtype: 'f32', data: new Float32Array(R * IN) }],
      ['proj.lora_A.weight', { shape: [R, IN], dtype: 'f32', data: Float32Array.from(randomArray([R, IN], 2).data) }],
      ['proj.lora_B.weight', { shape: [R, R], dtype: 'f32', data: eye }],
    ]);
    const g = new Graph();
    g.output('y', net.call('proj', g.input('x', [8, 5, IN])));
    const x = randomArray([8, 5, IN], 3);
    const feeds: Record<string, NDArray> = { ...feedsOf(w), x };
    if (g.inputs.has('rng.seed')) {
      feeds['rng.seed'] = NDArray.fromHost([], 'i32', Int32Array.of(seed));
      feeds['rng.step'] = NDArray.fromHost([], 'i32', Int32Array.of(step));
    }
    const y = evaluate(g, feeds).get('y')!.data;
    const A = w.get('proj.lora_A.weight')!.data;
    // Ratio of each output to the undropped component h = x·Aᵀ.
    return Array.from({ length: 8 * 5 * R }, (_, idx) => {
      const [n, k] = [Math.floor(idx / R), idx % R];
      let h = 0;
      for (let i = 0; i < IN; i++) h += x.data[n * IN + i] * A[k * IN + i];
      return y[idx] / h;
    });
  }

  it('drops whole components per example (the same at every position), scales kept ones by 1/(1-p)', () => {
    const ratio = run(true, 1, 0);
    let dropped = 0;
    for (let b = 0; b < 8; b++) {
      for (let k = 0; k < R; k++) {
        const first = ratio[(b * 5) * R + k];
        expect([0, 1 / (1 - P)].some((v) => Math.abs(first - v) < 1e-9)).toBe(true);
        for (let t = 1; t < 5; t++) expect(ratio[(b * 5 + t) * R + k]).toBeCloseTo(first, 9);
        if (first === 0) dropped++;
      }
    }
    // 32 Bernoulli(0.5) draws: neither none nor all dropped, and examples differ.
    expect(dropped).toBeGreaterThan(4);
    expect(dropped).toBeLessThan(28);
  });

  it('is keyed by (seed, step) and off at evaluation', () => {
    expect(run(true, 1, 0)).toEqual(run(true, 1, 0));
    expect(run(true, 1, 1)).not.toEqual(run(true, 1, 0));
    for (const r of run(false, 1, 0)) expect(r).toBeCloseTo(1, 9);
  });
});

describe('LoRA-drop layer selection', () => {
  it('keeps the most important layers until the normalized cumulative importance reaches the threshold', () => {
    const sel = selectLayers({ a: 1, b: 6, c: 2, d: 1 }, 0.8);
    expect(sel.kept).toEqual(['b', 'c']);
    expect(sel.dropped).toEqual(['a', 'd']);
    expect(sel.cumulative).toBeCloseTo(0.8, 12);
    expect(sel.normalized.b).toBeCloseTo(0.6, 12);
    expect(selectLayers({ a: 1, b: 6, c: 2, d: 1 }, 0.81).kept).toEqual(['b', 'c', 'a']);
    expect(() => selectLayers({ a: 0 }, 0.9)).toThrow(/warm up/);
  });

  it('dropped layers of one shape share one A and B; the parameter count and the expanded adapter follow', () => {
    const net = new TinyNet({ p: new Linear(IN, IN), q: new Linear(IN, IN), v: new Linear(IN, 3), o: new Linear(IN, IN) });
    applyAdapters(net, { r: 2, target_modules: ['p', 'q', 'v', 'o'] });
    shareDroppedLayers(net, ['q', 'o', 'v']);
    const report = loraDropParameters(net, ['q', 'o', 'v']);
    // Full: 3 layers × 2·(6+6) + 2·(6+3); used: p, one shared 6×6 pair, one shared 6×3 pair.
    expect(report.full).toBe(3 * 24 + 18);
    expect(report.used).toBe(24 + 24 + 18);
    const g = new Graph();
    const x = g.input('x', [1, IN]);
    for (const n of ['p', 'q', 'v', 'o']) g.output(n, net.call(n, x));
    const names = [...g.params.keys()].filter((n) => n.includes('lora'));
    expect(names.sort()).toEqual(
      ['p.lora_A.weight', 'p.lora_B.weight', 'lora_drop.shared.default.6x6.lora_A.weight', 'lora_drop.shared.default.6x6.lora_B.weight', 'lora_drop.shared.default.6x3.lora_A.weight', 'lora_drop.shared.default.6x3.lora_B.weight'].sort(),
    );
    const t = (shape: number[], v: number): HostTensor => ({ shape, dtype: 'f32', data: new Float32Array(shape[0] * shape[1]).fill(v) });
    const layer = (n: string) => [...net.modules()].find((m) => m.path === n) as unknown as Parameters<typeof sharedParamName>[0];
    const trained: Record<string, HostTensor> = {
      'p.lora_A.weight': t([2, IN], 1),
      'p.lora_B.weight': t([IN, 2], 2),
      [sharedParamName(layer('q'), 'lora_A')]: t([2, IN], 3),
      [sharedParamName(layer('q'), 'lora_B')]: t([IN, 2], 4),
      [sharedParamName(layer('v'), 'lora_A')]: t([2, IN], 5),
      [sharedParamName(layer('v'), 'lora_B')]: t([3, 2], 6),
    };
    const expanded = expandSharedAdapter(net, trained, ['q', 'o', 'v']);
    expect(expanded['o.lora_A.weight'].data[0]).toBe(3);
    expect(expanded['q.lora_B.weight'].data[0]).toBe(4);
    expect(expanded['v.lora_B.weight'].shape).toEqual([3, 2]);
    expect(expanded['p.lora_A.weight'].data[0]).toBe(1);
  });
});
