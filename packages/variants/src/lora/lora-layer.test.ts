import { evaluate, gradTrainable, Graph, Linear, NDArray, ops, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters, setActiveAdapters } from '../apply.js';
import { matmul, matrix, transpose } from '../linalg/matrix.js';
import { feedsOf, gradCheck, randomArray, TinyNet } from '../test-support.js';
import { initialAdapterState } from './init.js';

const IN = 6;
const OUT = 5;

function setup(opts: { bias?: boolean; fanInFanOut?: boolean; config?: Parameters<typeof applyAdapters>[1] } = {}) {
  const net = new TinyNet({ proj: new Linear(IN, OUT, { bias: opts.bias ?? true, fanInFanOut: opts.fanInFanOut ?? false }) });
  const wShape = opts.fanInFanOut ? [IN, OUT] : [OUT, IN];
  const base = new Map<string, HostTensor>([
    ['proj.weight', { shape: wShape, dtype: 'f32', data: Float32Array.from(randomArray(wShape, 1).data) }],
    ['proj.bias', { shape: [OUT], dtype: 'f32', data: Float32Array.from(randomArray([OUT], 2).data) }],
  ]);
  applyAdapters(net, { r: 3, lora_alpha: 6, target_modules: ['proj'], init_lora_weights: false, ...opts.config });
  const adapter = initialAdapterState(net, base, { seed: 11 });
  const feeds: Record<string, NDArray> = { ...feedsOf(base), ...feedsOf(adapter), x: randomArray([2, 4, IN], 3) };
  return { net, base, adapter, feeds };
}

const mat = (a: NDArray, rows: number, cols: number) => matrix(rows, cols, a.data);

describe('LoRA layer', () => {
  it('computes x·Wᵀ + b + (α/r)·x·Aᵀ·Bᵀ (PEFT forward)', () => {
    for (const fanInFanOut of [false, true]) {
      const { net, feeds } = setup({ fanInFanOut });
      const g = new Graph();
      g.output('y', net.call('proj', g.input('x', [2, 4, IN])));
      const y = evaluate(g, feeds).get('y')!;
      const x = mat(feeds.x, 8, IN);
      const w = fanInFanOut ? transpose(mat(feeds['proj.weight'], IN, OUT)) : mat(feeds['proj.weight'], OUT, IN);
      const base = matmul(x, w, { transB: true });
      const delta = matmul(matmul(x, mat(feeds['proj.lora_A.weight'], 3, IN), { transB: true }), mat(feeds['proj.lora_B.weight'], OUT, 3), { transB: true });
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < OUT; j++) {
          const expected = base.data[i * OUT + j] + feeds['proj.bias'].data[j] + 2 * delta.data[i * OUT + j];
          expect(y.data[i * OUT + j]).toBeCloseTo(expected, 12);
        }
      }
    }
  });

  it('gradients in x, A and B match finite differences; W gets no gradient work', () => {
    const { net, feeds } = setup();
    const r = gradCheck((g) => net.call('proj', g.input('x', [2, 4, IN])), feeds, ['x', 'proj.lora_A.weight', 'proj.lora_B.weight']);
    expect(r.maxRelError).toBeLessThan(1e-7);
    const g = new Graph();
    const loss = ops.sum(net.call('proj', g.input('x', [2, 4, IN])));
    expect([...gradTrainable(loss).keys()].sort()).toEqual(['proj.lora_A.weight', 'proj.lora_B.weight']);
  });

  it('rsLoRA scales by α/√r; rank_pattern and alpha_pattern override per module', () => {
    const { net } = setup({ config: { use_rslora: true, rank_pattern: { proj: 2 }, alpha_pattern: { '.*oj': 4 } } });
    const layer = net.children.get('proj') as unknown as { adapters: Map<string, { r: number; scaling: number }> };
    expect(layer.adapters.get('default')!.r).toBe(2);
    expect(layer.adapters.get('default')!.scaling).toBeCloseTo(4 / Math.sqrt(2), 15);
  });

  it('two adapters: the active one alone, or both combined (deltas add)', () => {
    const { net, base, feeds } = setup();
    applyAdapters(net, { r: 2, lora_alpha: 2, target_modules: ['proj'], init_lora_weights: false }, 'other');
    const other = initialAdapterState(net, base, { seed: 5, adapter: 'other' });
    expect([...other.keys()].sort()).toEqual(['proj.lora_A.other.weight', 'proj.lora_B.other.weight']);
    const all = { ...feeds, ...feedsOf(other) };
    const run = (names: string[]) => {
      setActiveAdapters(net, names);
      const g = new Graph();
      g.output('y', net.call('proj', g.input('x', [2, 4, IN])));
      return evaluate(g, all).get('y')!.data;
    };
    const withDefault = run(['default']);
    const withOther = run(['other']);
    const both = run(['default', 'other']);
    const noAdapter = run([]);
    for (let i = 0; i < both.length; i++) expect(both[i]).toBeCloseTo(withDefault[i] + withOther[i] - noAdapter[i], 12);
    expect(Math.abs(withDefault[0] - withOther[0])).toBeGreaterThan(1e-6);
  });

  it('gaussian and default inits: B is zero, so the layer starts as the base layer', () => {
    for (const init of [true, 'gaussian'] as const) {
      const { adapter } = setup({ config: { init_lora_weights: init } });
      expect(Array.from(adapter.get('proj.lora_B.weight')!.data).every((v) => v === 0)).toBe(true);
      const a = Array.from(adapter.get('proj.lora_A.weight')!.data);
      expect(a.some((v) => v !== 0)).toBe(true);
      if (init === true) expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(IN));
    }
  });
});
