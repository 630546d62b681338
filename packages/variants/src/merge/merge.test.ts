import { evaluate, Graph, Linear, NDArray, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters, loraLayers, setActiveAdapters } from '../apply.js';
import { initialAdapterState } from '../lora/init.js';
import { quantizeModel } from '../qlora/quantize-model.js';
import { feedsOf, TinyLM, TinyNet, randomArray } from '../test-support.js';
import { mergeAdapters, mergeAndUnload, unmergeAdapters } from './merge.js';

const VOCAB = 11;
const DIM = 64;

function logits(model: TinyLM, weights: Map<string, HostTensor>): Float64Array {
  const g = new Graph();
  g.output('logits', model.logits(g.input('ids', [2, 5], 'i32')));
  const ids = NDArray.from([2, 5], [1, 4, 2, 9, 10, 0, 3, 3, 7, 5], 'i32');
  return evaluate(g, { ...feedsOf(weights), ids }).get('logits')!.data;
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Largest |a - b| relative to the largest |b| (logits near zero make elementwise ratios meaningless). */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return m / scale;
}

function adapted(useDora: boolean) {
  const model = new TinyLM(VOCAB, DIM);
  const base = model.randomWeights(1);
  applyAdapters(model, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], use_dora: useDora, init_lora_weights: false });
  const weights = new Map([...base, ...initialAdapterState(model, base, { seed: 4 })]);
  return { model, base, weights };
}

describe('merge and unmerge', () => {
  for (const useDora of [false, true]) {
    const label = useDora ? 'DoRA' : 'LoRA';
    it(`${label}: merged logits equal adapter logits (1e-5); unmerge restores W (1e-6)`, () => {
      const { model, weights } = adapted(useDora);
      const before = logits(model, weights);
      const merged = mergeAdapters(model, weights);
      expect(relDiff(merged.weights.get('q_proj.weight')!.data, weights.get('q_proj.weight')!.data)).toBeGreaterThan(1e-3);
      const after = logits(model, merged.weights);
      expect(maxRel(after, before)).toBeLessThan(1e-5);
      const restored = unmergeAdapters(model, merged.weights);
      const wErr = Math.max(...['q_proj.weight', 'v_proj.weight'].map((name) => relDiff(restored.weights.get(name)!.data, weights.get(name)!.data)));
      console.log(`${label}: merged vs adapter logits ${maxRel(after, before).toExponential(2)}, unmerged W vs original ${wErr.toExponential(2)} (relative)`);
      expect(wErr).toBeLessThan(1e-6);
      expect(maxRel(logits(model, restored.weights), before)).toBeLessThan(1e-5);
      for (const layer of loraLayers(model).values()) expect(layer.merged.size).toBe(0);
    });
  }

  it('mergeAndUnload leaves plain Linear layers and the same logits', () => {
    const { model, weights } = adapted(false);
    const before = logits(model, weights);
    const { weights: merged } = mergeAndUnload(model, weights);
    expect(loraLayers(model).size).toBe(0);
    expect(model.children.get('q_proj')).toBeInstanceOf(Linear);
    expect([...merged.keys()].some((k) => k.includes('lora_'))).toBe(false);
    expect(maxRel(logits(model, merged), before)).toBeLessThan(1e-5);
  });

  it('merging into a 4-bit base merges into the dequantized weights and says so', () => {
    const model = new TinyLM(VOCAB, DIM);
    const dense = model.randomWeights(2);
    const { weights: q } = quantizeModel(model, dense);
    applyAdapters(model, { r: 2, target_modules: ['q_proj'], init_lora_weights: false });
    const weights = new Map([...q, ...initialAdapterState(model, q, { seed: 1 })]);
    const before = logits(model, weights);
    const merged = mergeAdapters(model, weights);
    expect(merged.notices.join('\n')).toMatch(/q_proj: the base weight was 4-bit quantized; the adapter was merged into its dequantized values/);
    expect(merged.weights.get('q_proj.weight')!.dtype).toBe('f32');
    expect(merged.weights.has('q_proj.weight.absmax')).toBe(false);
    expect(maxRel(logits(model, merged.weights), before)).toBeLessThan(1e-5);
  });

  it('merges only the requested adapter when several exist', () => {
    const net = new TinyNet({ proj: new Linear(8, 8) });
    const base = new Map<string, HostTensor>([
      ['proj.weight', { shape: [8, 8], dtype: 'f32', data: Float32Array.from(randomArray([8, 8], 1).data) }],
      ['proj.bias', { shape: [8], dtype: 'f32', data: new Float32Array(8) }],
    ]);
    applyAdapters(net, { r: 2, target_modules: ['proj'], init_lora_weights: false });
    applyAdapters(net, { r: 2, target_modules: ['proj'], init_lora_weights: false }, 'b');
    const weights = new Map([...base, ...initialAdapterState(net, base, { seed: 3 })]);
    setActiveAdapters(net, ['default', 'b']);
    const merged = mergeAdapters(net, weights, ['b']);
    const layer = loraLayers(net).get('proj')!;
    expect([...layer.merged]).toEqual(['b']);
    expect(merged.weights.get('proj.lora_A.b.weight')).toBeDefined();
  });
});

describe('merge with a fan-in-fan-out (GPT-2 Conv1D) weight', () => {
  it('DoRA on c_attn [in, out]: same outputs after merging, W restored after unmerging', () => {
    const net = new TinyNet({ c_attn: new Linear(8, 24, { fanInFanOut: true }) });
    const base = new Map<string, HostTensor>([
      ['c_attn.weight', { shape: [8, 24], dtype: 'f32', data: Float32Array.from(randomArray([8, 24], 4).data) }],
      ['c_attn.bias', { shape: [24], dtype: 'f32', data: Float32Array.from(randomArray([24], 5).data) }],
    ]);
    applyAdapters(net, { r: 3, lora_alpha: 6, use_dora: true, init_lora_weights: false, fan_in_fan_out: true });
    const weights = new Map([...base, ...initialAdapterState(net, base, { seed: 8 })]);
    // Move the magnitude off its initial norm so DoRA's rescaling is visible.
    const m = weights.get('c_attn.lora_magnitude_vector')!;
    weights.set('c_attn.lora_magnitude_vector', { shape: m.shape, dtype: 'f32', data: Float32Array.from(m.data, (v, i) => v * (1 + 0.02 * i)) });
    const run = (w: Map<string, HostTensor>) => {
      const g = new Graph();
      g.output('y', net.call('c_attn', g.input('x', [3, 8])));
      return evaluate(g, { ...feedsOf(w), x: randomArray([3, 8], 6) }).get('y')!.data;
    };
    const before = run(weights);
    const merged = mergeAdapters(net, weights);
    expect(merged.weights.get('c_attn.weight')!.shape).toEqual([8, 24]);
    expect(maxRel(run(merged.weights), before)).toBeLessThan(1e-6);
    const restored = unmergeAdapters(net, merged.weights);
    expect(relDiff(restored.weights.get('c_attn.weight')!.data, weights.get('c_attn.weight')!.data)).toBeLessThan(1e-6);
  });
});
