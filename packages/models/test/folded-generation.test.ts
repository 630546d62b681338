import { createCpuBackend } from '@lowrank/backend-cpu';
import type { Backend, Graph, HostTensor } from '@lowrank/core';
import { applyAdapters, foldAdapters, loraLayers, mergeAndUnload, setAdapterTraining } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { Generator, createPreset, type LanguageModel } from '../src/index.js';
import { randomWeights } from './hf-reference.js';

const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const prompts = [
  [256, 72, 101, 108, 108, 111, 33, 32],
  [256, 87, 111, 114, 108],
];

/** llama-tiny with a LoRA on every linear layer and random non-zero A and B (a trained adapter), or without one. */
function model(adapter: boolean): { model: LanguageModel; weights: Map<string, HostTensor> } {
  const { model } = createPreset('llama-tiny');
  const base = randomWeights(model.namedParams(), 99, 0.35);
  if (!adapter) return { model, weights: base };
  applyAdapters(model, { r: 8, lora_alpha: 16, target_modules: TARGETS });
  setAdapterTraining(model, false);
  const all = randomWeights(model.namedParams(), 5, 0.4);
  return { model, weights: new Map([...all].map(([n, t]) => [n, base.get(n) ?? t])) };
}

/** A backend that keeps the parameter names of every graph it compiles. */
function recording(b: Backend): { backend: Backend; params: string[][] } {
  const params: string[][] = [];
  const compile = (g: Graph, s: Parameters<Backend['compile']>[1]) => (params.push([...g.params.keys()]), b.compile(g, s));
  return { backend: { ...b, compile, memoryStats: () => b.memoryStats(), dispose: () => b.dispose() }, params };
}

async function greedy(m: LanguageModel, weights: Map<string, HostTensor>, backend: Backend, folded?: ReturnType<typeof foldAdapters>): Promise<number[][]> {
  const gen = await Generator.create(m, weights, { backend, maxLength: 32, prefillLength: 4, ...(folded ? { folded } : {}) });
  try {
    return (await gen.generateBatch(prompts, { maxNewTokens: 12 })).map((r) => r.tokens);
  } finally {
    gen.dispose();
  }
}

describe('generation with adapters folded for the session (foldAdapters)', () => {
  it('backend-cpu: step graphs read no adapter tensor; greedy tokens equal the merged model and the adapter path; nothing of the caller changes', async () => {
    const cpu = createCpuBackend({ threads: 2 });
    try {
      const adapted = model(true);
      const before = new Map([...adapted.weights].map(([n, t]) => [n, Float32Array.from(t.data as Float32Array)]));
      const folded = foldAdapters(adapted.model, adapted.weights);
      expect(folded.layers.length).toBe(TARGETS.length * adapted.model.cacheLayout().layers);
      const rec = recording(cpu);
      const foldedTokens = await greedy(adapted.model, adapted.weights, rec.backend, folded);
      expect(rec.params.length).toBeGreaterThanOrEqual(2);
      for (const names of rec.params) {
        expect(names.filter((n) => n.includes('lora_'))).toEqual([]);
        expect(names).toContain('model.layers.0.self_attn.q_proj.weight');
      }
      for (const [n, data] of before) expect(adapted.weights.get(n)!.data, n).toEqual(data);
      for (const layer of loraLayers(adapted.model).values()) expect(layer.merged.size).toBe(0);

      const pathTokens = await greedy(adapted.model, adapted.weights, cpu);
      const twin = model(true);
      const merged = mergeAndUnload(twin.model, twin.weights);
      const mergedTokens = await greedy(twin.model, merged.weights, cpu);
      const baseTokens = await greedy(model(false).model, model(false).weights, cpu);
      expect(foldedTokens).toEqual(mergedTokens);
      expect(foldedTokens).toEqual(pathTokens);
      // The adapter matters: without it the model says something else.
      expect(baseTokens).not.toEqual(foldedTokens);
    } finally {
      cpu.dispose();
    }
  });
});
