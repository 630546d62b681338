import type { HostTensor } from '@lowrank/core';
import { createPreset, type LanguageModel } from '@lowrank/models';
import { applyAdapters, initialAdapterState, mergeAndUnload } from '@lowrank/variants';
import { SeededRandom } from '../prng.js';

const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface AdapterPair {
  unmerged: { model: LanguageModel; weights: Map<string, HostTensor> };
  merged: { model: LanguageModel; weights: Map<string, HostTensor> };
}

/**
 * The preset with a rank-r LoRA on every linear layer (B drawn non-zero, as
 * after training), unmerged; and the same adapter merged into W (merge_and_unload).
 */
export function adapterPair(preset: string, rank: number): AdapterPair {
  const build = () => {
    const { model, weights } = createPreset(preset, { seed: 1 });
    applyAdapters(model, { r: rank, lora_alpha: 2 * rank, target_modules: TARGETS });
    const all: Map<string, HostTensor> = new Map(weights);
    const rand = new SeededRandom(7);
    const base: Map<string, HostTensor> = new Map(weights);
    for (const [name, t] of initialAdapterState(model, base, { seed: 3 })) {
      // A trained B is not zero: draw it so the adapter changes the outputs.
      all.set(name, name.includes('lora_B') ? { ...t, data: Float32Array.from(t.data, () => (rand.uniform() - 0.5) * 0.05) } : t);
    }
    return { model, weights: all };
  };
  const unmerged = build();
  const m = build();
  const merged = mergeAndUnload(m.model, m.weights);
  return { unmerged, merged: { model: m.model, weights: merged.weights } };
}
