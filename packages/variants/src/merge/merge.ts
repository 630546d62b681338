import { Linear, type HostTensor, type Module } from '@lowrank/core';
import type { DenseBaseSpec } from '../base-layer.js';
import { loraLayers, unwrapLayers } from '../apply.js';
import { rowNorms } from '../dora/magnitude.js';
import { AdapterNameError, MergeError } from '../errors.js';
import { addInto, transpose, type Matrix } from '../linalg/matrix.js';
import type { LoraLayer } from '../lora/lora-layer.js';
import { Linear4bit } from '../qlora/linear4bit.js';
import { baseParams } from '../base-layer.js';
import { baseWeightMatrix, getTensor, toWeightMap, type WeightSource } from '../weights.js';
import { deltaWeight } from './delta.js';

/** New weights after a merge, and what the user should know about it. */
export interface MergeResult {
  readonly weights: Map<string, HostTensor>;
  readonly notices: readonly string[];
}

/** W [out, in] as the layer stores it (transposed for fanInFanOut), f32. */
function storedWeight(layer: LoraLayer, w: Matrix): HostTensor {
  const spec = layer.baseSpec as DenseBaseSpec;
  const stored = spec.fanInFanOut ? transpose(w) : w;
  return { shape: [stored.rows, stored.cols], dtype: 'f32', data: Float32Array.from(stored.data) };
}

function storeWeight(layer: LoraLayer, w: Matrix, out: Map<string, HostTensor>): void {
  out.set(layer.baseName('weight'), storedWeight(layer, w));
}

/** A 4-bit base becomes a dense f32 weight holding its dequantized values. */
function densify(layer: LoraLayer, out: Map<string, HostTensor>, notices: string[]): void {
  if (layer.baseSpec.kind === 'dense') return;
  const w = baseWeightMatrix(layer.baseSpec, out, layer.path);
  for (const p of baseParams(layer.baseSpec)) if (p.name !== 'bias') out.delete(layer.baseName(p.name));
  layer.replaceBase({ kind: 'dense', inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, hasBias: layer.baseSpec.hasBias, fanInFanOut: false });
  storeWeight(layer, w, out);
  notices.push(`${layer.path}: the base weight was 4-bit quantized; the adapter was merged into its dequantized values, and the layer now holds a dense f32 weight (re-quantize it to get a 4-bit model back)`);
}

function magnitudeOf(layer: LoraLayer, adapter: string, weights: WeightSource): Float64Array {
  return Float64Array.from(getTensor(weights, layer.paramName('lora_magnitude_vector', adapter), [layer.outFeatures]).data);
}

/**
 * Adds the adapters' deltas into the base weights (PEFT's merge): LoRA
 * W ← W + s·BA; DoRA W ← m/‖W + s·BA‖ ⊙ (W + s·BA) with the norm kept for an
 * exact unmerge. Merged adapters are skipped by the forward afterwards.
 * Default: the active adapters.
 */
export function mergeAdapters(model: Module, weights: WeightSource, adapters?: readonly string[]): MergeResult {
  const out = toWeightMap(weights);
  const notices: string[] = [];
  for (const layer of loraLayers(model).values()) {
    const names = (adapters ?? layer.active).filter((n) => layer.adapters.has(n) && !layer.merged.has(n));
    if (names.length === 0) continue;
    densify(layer, out, notices);
    const { weight, norms } = mergedWeight(layer, names, out);
    out.set(layer.baseName('weight'), weight);
    for (const name of names) layer.merged.add(name);
    for (const [name, norm] of norms) layer.mergeNorms.set(name, norm);
  }
  return { weights: out, notices };
}

/**
 * A dense layer's weight with the given adapters added in order (LoRA
 * W + s·BA; DoRA rescaled to its magnitude per row), in the stored layout,
 * and each DoRA adapter's row norms (needed to unmerge exactly).
 * Leaves the layer and the weights untouched.
 */
export function mergedWeight(layer: LoraLayer, names: readonly string[], weights: WeightSource): { weight: HostTensor; norms: Map<string, Float64Array> } {
  const w = baseWeightMatrix(layer.baseSpec, weights, layer.path);
  const norms = new Map<string, Float64Array>();
  for (const name of names) {
    addInto(w, deltaWeight(layer, name, weights));
    if (layer.adapters.get(name)!.useDora) {
      const norm = rowNorms(w);
      const m = magnitudeOf(layer, name, weights);
      for (let i = 0; i < w.rows; i++) for (let j = 0; j < w.cols; j++) w.data[i * w.cols + j] *= m[i] / norm[i];
      norms.set(name, norm);
    }
    // Stored as f32 after each adapter, as a merge of one adapter at a time would leave it.
    for (let i = 0; i < w.data.length; i++) w.data[i] = Math.fround(w.data[i]);
  }
  return { weight: storedWeight(layer, w), norms };
}

/** Takes merged adapters back out of the base weights, in reverse order (PEFT's unmerge). */
export function unmergeAdapters(model: Module, weights: WeightSource): MergeResult {
  const out = toWeightMap(weights);
  for (const layer of loraLayers(model).values()) {
    for (const name of [...layer.merged].reverse()) {
      const w = baseWeightMatrix(layer.baseSpec, out, layer.path);
      if (layer.adapters.get(name)!.useDora) {
        const norm = layer.mergeNorms.get(name);
        if (!norm) throw new MergeError(`${layer.path}: no stored norm for DoRA adapter '${name}'; it was not merged by mergeAdapters`);
        const m = magnitudeOf(layer, name, out);
        for (let i = 0; i < w.rows; i++) for (let j = 0; j < w.cols; j++) w.data[i * w.cols + j] /= m[i] / norm[i];
        layer.mergeNorms.delete(name);
      }
      storeWeight(layer, addInto(w, deltaWeight(layer, name, out), -1), out);
      layer.merged.delete(name);
    }
  }
  return { weights: out, notices: [] };
}

/**
 * Merges the given (default: active) adapters and removes every adapter,
 * leaving plain layers (PEFT's merge_and_unload): the result is a model of
 * the original architecture with the adapters baked into W.
 */
export function mergeAndUnload(model: Module, weights: WeightSource, adapters?: readonly string[]): MergeResult {
  for (const n of adapters ?? []) {
    if (![...loraLayers(model).values()].some((l) => l.adapters.has(n))) throw new AdapterNameError(n, 'is not on this model');
  }
  const merged = mergeAdapters(model, weights, adapters);
  const out = merged.weights;
  for (const layer of loraLayers(model).values()) {
    for (const name of layer.adapters.keys()) for (const kind of ['lora_A', 'lora_B', 'lora_magnitude_vector'] as const) out.delete(layer.paramName(kind, name));
  }
  unwrapLayers(model, (layer) => {
    const spec = layer.baseSpec;
    if (spec.kind === '4bit') return new Linear4bit(spec);
    return new Linear(spec.inFeatures, spec.outFeatures, { bias: spec.hasBias, fanInFanOut: spec.fanInFanOut });
  });
  return { weights: out, notices: merged.notices };
}

