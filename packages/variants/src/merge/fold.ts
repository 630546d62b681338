import type { HostTensor, Module } from '@lowrank/core';
import { loraLayers } from '../apply.js';
import type { LoraLayer } from '../lora/lora-layer.js';
import { toWeightMap, type WeightSource } from '../weights.js';
import { mergedWeight } from './merge.js';

/**
 * Adapters folded into the weights they adapt, for inference: the model and
 * the caller's weights stay unmerged. A graph traced inside `trace` reads the
 * folded weights and has no adapter path on those layers, so it decodes at the
 * merged model's speed (the generator's `fold` option).
 */
export interface FoldedAdapters {
  /** The caller's weights with W replaced by W + ΔW on every folded layer (new arrays; nothing shared is written). */
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** Runs a graph trace with the folded layers' adapters counted as merged, then restores them. */
  trace<T>(fn: () => T): T;
  /** Paths of the folded layers. */
  readonly layers: readonly string[];
  /** Paths of adapted layers left unfolded, with the reason (their adapter path stays in the graph). */
  readonly unfolded: ReadonlyMap<string, string>;
  /** Bytes of the folded weights: the extra memory they hold while in use. */
  readonly bytes: number;
}

/** Why a layer's adapters cannot be folded, or undefined when they can. */
function unfoldable(layer: LoraLayer): string | undefined {
  const spec = layer.baseSpec;
  if (spec.kind !== 'dense') return 'the base is 4-bit; folding would hold a dense f32 copy of it';
  if ((spec.weightDtype ?? 'f32') !== 'f32') return `the base is ${spec.weightDtype}; folding would hold an f32 copy of it`;
  if (layer.pathOverride) return 'its adapter path is overridden (a rank mask or a shared adapter)';
  return undefined;
}

/**
 * Folds the active, unmerged adapters of every LoRA/DoRA layer with a dense
 * f32 base into that base weight (PEFT's merge arithmetic, in float64, stored
 * as f32), without touching the model or `weights`. Costs one f32 copy of each
 * folded weight for as long as the result is used. Layers it cannot fold keep
 * their adapter path (`unfolded` says why). Inference only: adapter dropout
 * does not apply to folded layers. A snapshot: adapter values changed later
 * (training goes on) need a new fold.
 */
export function foldAdapters(model: Module, weights: WeightSource): FoldedAdapters {
  const out = toWeightMap(weights);
  const folded: { layer: LoraLayer; names: string[] }[] = [];
  const unfolded = new Map<string, string>();
  let bytes = 0;
  for (const layer of loraLayers(model).values()) {
    const names = layer.active.filter((n) => !layer.merged.has(n));
    if (names.length === 0) continue;
    const why = unfoldable(layer);
    if (why) {
      unfolded.set(layer.path, why);
      continue;
    }
    const { weight } = mergedWeight(layer, names, weights);
    out.set(layer.baseName('weight'), weight);
    bytes += weight.data.byteLength;
    folded.push({ layer, names });
  }
  const trace = <T>(fn: () => T): T => {
    for (const { layer, names } of folded) for (const n of names) layer.merged.add(n);
    try {
      return fn();
    } finally {
      for (const { layer, names } of folded) for (const n of names) layer.merged.delete(n);
    }
  };
  return { weights: out, trace, layers: folded.map((f) => f.layer.path), unfolded, bytes };
}
