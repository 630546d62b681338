import { evaluate, Graph, NDArray, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters, loraLayers } from '../apply.js';
import { initialAdapterState } from '../lora/init.js';
import { loraPath } from '../lora/lora-layer.js';
import { quantizeModel } from '../qlora/quantize-model.js';
import { feedsOf, TinyLM } from '../test-support.js';
import { foldAdapters } from './fold.js';
import { mergeAdapters } from './merge.js';

const VOCAB = 11;
const DIM = 64;

function adapted(useDora: boolean, targets = ['q_proj', 'v_proj']) {
  const model = new TinyLM(VOCAB, DIM);
  const base = model.randomWeights(1);
  applyAdapters(model, { r: 4, lora_alpha: 8, target_modules: targets, use_dora: useDora, init_lora_weights: false });
  const weights = new Map([...base, ...initialAdapterState(model, base, { seed: 4 })]);
  return { model, weights };
}

/** The logits graph, traced now (inside or outside a fold's trace), and the parameters it reads. */
function traced(model: TinyLM): { g: Graph; params: string[] } {
  const g = new Graph();
  g.output('logits', model.logits(g.input('ids', [2, 5], 'i32')));
  return { g, params: [...g.params.keys()] };
}

function run(g: Graph, weights: ReadonlyMap<string, HostTensor>): Float64Array {
  const ids = NDArray.from([2, 5], [1, 4, 2, 9, 10, 0, 3, 3, 7, 5], 'i32');
  const feeds = feedsOf(new Map([...weights].filter(([name]) => g.params.has(name))));
  return evaluate(g, { ...feeds, ids }).get('logits')!.data;
}

const loraPathOf = (x: Parameters<typeof loraPath>[0], f: { A: Parameters<typeof loraPath>[1]; B: Parameters<typeof loraPath>[2] }) => loraPath(x, f.A, f.B);

function snapshot(weights: ReadonlyMap<string, HostTensor>): Map<string, number[]> {
  return new Map([...weights].map(([n, t]) => [n, Array.from(t.data as ArrayLike<number>)]));
}

describe('foldAdapters', () => {
  for (const useDora of [false, true]) {
    const label = useDora ? 'DoRA' : 'LoRA';
    it(`${label}: the graph traced inside the fold reads W + ΔW, has no adapter path, and equals mergeAdapters' weights bit for bit`, () => {
      const { model, weights } = adapted(useDora);
      const before = snapshot(weights);
      const unmergedLogits = run(traced(model).g, weights);
      const fold = foldAdapters(model, weights);
      expect(fold.layers).toEqual(['q_proj', 'v_proj']);
      expect(fold.bytes).toBe(2 * DIM * DIM * 4);
      const inside = fold.trace(() => traced(model));
      expect(inside.params.filter((p) => p.includes('lora_'))).toEqual([]);
      // The model and the caller's weights are as they were.
      for (const layer of loraLayers(model).values()) expect([...layer.merged]).toEqual([]);
      expect(snapshot(weights)).toEqual(before);
      expect(traced(model).params.some((p) => p.includes('lora_A'))).toBe(true);
      // Same values as PEFT-style merging (a separate model, so this one stays unmerged).
      const other = adapted(useDora);
      const merged = mergeAdapters(other.model, other.weights);
      for (const name of ['q_proj.weight', 'v_proj.weight']) expect(Array.from(fold.weights.get(name)!.data)).toEqual(Array.from(merged.weights.get(name)!.data));
      // And the folded graph computes what the adapter path computes (f32 rounding of W + ΔW only).
      const foldedLogits = run(inside.g, fold.weights);
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < foldedLogits.length; i++) {
        worst = Math.max(worst, Math.abs(foldedLogits[i] - unmergedLogits[i]));
        scale = Math.max(scale, Math.abs(unmergedLogits[i]));
      }
      expect(worst / scale).toBeLessThan(1e-6);
      expect(worst).toBeGreaterThan(0);
    });
  }

  it('leaves 4-bit bases and overridden paths unfolded, saying why', () => {
    const model = new TinyLM(VOCAB, DIM);
    // QLoRA's order: quantize the base, then adapt it.
    const q = quantizeModel(model, model.randomWeights(1), { codebook: 'nf4', blockSize: 64, include: (path) => path === 'q_proj' });
    applyAdapters(model, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'lm_head'], init_lora_weights: false });
    const weights = new Map([...q.weights, ...initialAdapterState(model, q.weights, { seed: 4 })]);
    // A stand-in for DyLoRA's rank mask: any override keeps the adapter path in the graph.
    loraLayers(model).get('v_proj')!.pathOverride = (x, _a, factors) => loraPathOf(x, factors());
    const fold = foldAdapters(model, weights);
    expect(fold.layers).toEqual(['lm_head']);
    expect(fold.unfolded.get('q_proj')).toMatch(/4-bit/);
    expect(fold.unfolded.get('v_proj')).toMatch(/overridden/);
    const inside = fold.trace(() => traced(model));
    expect(inside.params.filter((p) => p.includes('lora_A')).sort()).toEqual(['q_proj.lora_A.weight', 'v_proj.lora_A.weight']);
  });

  it('restores the layers when the trace throws', () => {
    const { model, weights } = adapted(false);
    const fold = foldAdapters(model, weights);
    expect(() =>
      fold.trace(() => {
        throw new Error('trace failed');
      }),
    ).toThrow('trace failed');
    for (const layer of loraLayers(model).values()) expect(layer.merged.size).toBe(0);
  });
});
