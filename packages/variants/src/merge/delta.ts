import type { LoraLayer } from '../lora/lora-layer.js';
import { matmul, type Matrix } from '../linalg/matrix.js';
import { readMatrix, type WeightSource } from '../weights.js';

/** The adapter's factors A [r, in] and B [out, r] as stored. */
export function adapterFactors(layer: LoraLayer, adapter: string, weights: WeightSource): { a: Matrix; b: Matrix } {
  const spec = layer.adapters.get(adapter)!;
  return {
    a: readMatrix(weights, layer.paramName('lora_A', adapter), spec.r, layer.inFeatures),
    b: readMatrix(weights, layer.paramName('lora_B', adapter), layer.outFeatures, spec.r),
  };
}

/** ΔW = scaling · B·A as [out, in] (PEFT's get_delta_weight, before any fan-in-fan-out transpose). */
export function deltaWeight(layer: LoraLayer, adapter: string, weights: WeightSource): Matrix {
  const { a, b } = adapterFactors(layer, adapter, weights);
  const d = matmul(b, a);
  const s = layer.adapters.get(adapter)!.scaling;
  for (let i = 0; i < d.data.length; i++) d.data[i] *= s;
  return d;
}
