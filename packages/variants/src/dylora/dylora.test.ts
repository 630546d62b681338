import { evaluate, grad, Graph, Linear, NDArray, ops, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { initialAdapterState } from '../lora/init.js';
import { feedsOf, randomArray, TinyNet } from '../test-support.js';
import { AdaptiveRankScheduler } from './adaptive-rank.js';
import { applyDyLora, type DyLoraMode } from './dylora.js';
import { selectDyLoraRank } from './select.js';

const IN = 5;
const OUT = 4;
const R = 3;
const ALPHA = 6;

function setup(mode: DyLoraMode) {
  const net = new TinyNet({ proj: new Linear(IN, OUT, { bias: false }) });
  const base = new Map<string, HostTensor>([['proj.weight', { shape: [OUT, IN], dtype: 'f32', data: Float32Array.from(randomArray([OUT, IN], 1).data) }]]);
  const dy = applyDyLora(net, { r: R, lora_alpha: ALPHA, target_modules: ['proj'], init_lora_weights: false }, { mode });
  const adapter = initialAdapterState(net, base, { seed: 4 });
  const x = randomArray([2, 3, IN], 3);
  const feeds = (b: number) => {
    const f: Record<string, NDArray> = { ...feedsOf(base), ...feedsOf(adapter), x };
    for (const [k, t] of Object.entries(dy.feedsForRank(b))) f[k] = NDArray.fromHost(t.shape, t.dtype, t.data);
    return f;
  };
  return { dy, feeds, net, adapter, x, A: adapter.get('proj.lora_A.weight')!.data, B: adapter.get('proj.lora_B.weight')!.data, W: base.get('proj.weight')!.data };
}

const rowNonZero = (m: ArrayLike<number>, row: number, cols: number) => Array.from({ length: cols }, (_, j) => m[row * cols + j]).some((v) => v !== 0);
const colNonZero = (m: ArrayLike<number>, col: number, rows: number, cols: number) => Array.from({ length: rows }, (_, i) => m[i * cols + col]).some((v) => v !== 0);

describe('DyLoRA layer', () => {
  it('at rank b computes W·x + (alpha/b)·B[:, :b]·A[:b]·x', () => {
    const s = setup('full');
    for (let b = 1; b <= R; b++) {
      const g = new Graph();
      g.output('y', s.net.call('proj', g.input('x', [2, 3, IN])));
      const y = evaluate(g, s.feeds(b)).get('y')!.data;
      for (let n = 0; n < 6; n++) {
        for (let o = 0; o < OUT; o++) {
          let want = 0;
          for (let i = 0; i < IN; i++) want += s.W[o * IN + i] * s.x.data[n * IN + i];
          for (let k = 0; k < b; k++) {
            let ax = 0;
            for (let i = 0; i < IN; i++) ax += s.A[k * IN + i] * s.x.data[n * IN + i];
            want += (ALPHA / b) * s.B[o * R + k] * ax;
          }
          expect(y[n * OUT + o]).toBeCloseTo(want, 5);
        }
      }
    }
  });

  it('full mode: the first b rows of A and columns of B get gradient, the rest none', () => {
    const s = setup('full');
    for (let b = 1; b <= R; b++) {
      const g = new Graph();
      const y = s.net.call('proj', g.input('x', [2, 3, IN]));
      const [gA, gB] = grad(ops.sum(ops.mul(y, y)), [g.paramTensor('proj.lora_A.weight'), g.paramTensor('proj.lora_B.weight')]);
      g.output('gA', gA);
      g.output('gB', gB);
      const out = evaluate(g, s.feeds(b));
      for (let k = 0; k < R; k++) {
        expect(rowNonZero(out.get('gA')!.data, k, IN)).toBe(k < b);
        expect(colNonZero(out.get('gB')!.data, k, OUT, R)).toBe(k < b);
      }
    }
  });

  it('frozen mode: only the b-th row of A and column of B get gradient', () => {
    const s = setup('frozen');
    for (let b = 1; b <= R; b++) {
      const g = new Graph();
      const y = s.net.call('proj', g.input('x', [2, 3, IN]));
      const [gA, gB] = grad(ops.sum(ops.mul(y, y)), [g.paramTensor('proj.lora_A.weight'), g.paramTensor('proj.lora_B.weight')]);
      g.output('gA', gA);
      g.output('gB', gB);
      const out = evaluate(g, s.feeds(b));
      for (let k = 0; k < R; k++) {
        expect(rowNonZero(out.get('gA')!.data, k, IN)).toBe(k === b - 1);
        expect(colNonZero(out.get('gB')!.data, k, OUT, R)).toBe(k === b - 1);
      }
    }
  });

  it('draws ranks uniformly from 1..r, reproducibly, and rejects ranks outside 1..r', () => {
    const { dy } = setup('full');
    const counts = [0, 0, 0, 0];
    for (let step = 0; step < 3000; step++) counts[dy.drawRank(7, step)]++;
    expect(counts[0]).toBe(0);
    for (let b = 1; b <= R; b++) expect(Math.abs(counts[b] / 3000 - 1 / 3)).toBeLessThan(0.04);
    expect(dy.drawRank(7, 12)).toBe(dy.drawRank(7, 12));
    expect(dy.drawRank(7, 5, 1)).toBe(1);
    expect(() => dy.feedsForRank(0)).toThrow(/1\.\.3/);
    expect(() => dy.feedsForRank(4)).toThrow(/1\.\.3/);
  });

  it('selects rank k as a plain LoRA adapter: the first k rows of A and columns of B, r = k', () => {
    const s = setup('full');
    const trained = Object.fromEntries(s.adapter);
    const picked = selectDyLoraRank(s.net, trained, { r: R, lora_alpha: ALPHA }, 2);
    expect(picked.config).toMatchObject({ r: 2, lora_alpha: ALPHA });
    expect(picked.tensors['proj.lora_A.weight'].shape).toEqual([2, IN]);
    expect(Array.from(picked.tensors['proj.lora_A.weight'].data)).toEqual(Array.from(s.A.subarray(0, 2 * IN) as ArrayLike<number>));
    expect(picked.tensors['proj.lora_B.weight'].shape).toEqual([OUT, 2]);
    for (let o = 0; o < OUT; o++) for (let k = 0; k < 2; k++) expect(picked.tensors['proj.lora_B.weight'].data[o * 2 + k]).toBe(s.B[o * R + k]);
  });
});

describe('AdaptiveRankScheduler', () => {
  it('raises on a plateau, lowers on a rise, holds while improving, within bounds, logging every decision', () => {
    const s = new AdaptiveRankScheduler({ minRank: 1, maxRank: 3, initialRank: 1, plateau: 0.01, worsen: 0.02 });
    expect(s.observe(10, 5.0).action).toBe('hold'); // first evaluation: no trend yet
    expect(s.observe(20, 4.5)).toMatchObject({ action: 'hold', from: 1, to: 1 }); // -10%: improving
    expect(s.observe(30, 4.48)).toMatchObject({ action: 'raise', from: 1, to: 2 }); // -0.4%: plateau
    expect(s.observe(40, 4.7)).toMatchObject({ action: 'lower', from: 2, to: 1 }); // +4.9%: worse
    expect(s.observe(50, 4.69)).toMatchObject({ action: 'raise', from: 1, to: 2 });
    expect(s.observe(60, 4.689)).toMatchObject({ action: 'raise', from: 2, to: 3 });
    expect(s.observe(70, 4.688)).toMatchObject({ action: 'hold', from: 3, to: 3 }); // at the upper bound
    expect(s.activeRank).toBe(3);
    expect(s.decisions.map((d) => d.step)).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(s.decisions[3].trend).toBeCloseTo((4.7 - 4.48) / 4.48, 12);
    expect(() => new AdaptiveRankScheduler({ minRank: 2, maxRank: 1, initialRank: 1 })).toThrow(/minRank/);
  });
});
