import { Linear, type HostTensor, type Module } from '@lowrank/core';
import type { QuantBaseSpec } from '../base-layer.js';
import { QuantizationError } from '../errors.js';
import { baseWeightMatrix, toWeightMap, type WeightSource } from '../weights.js';
import { Linear4bit } from './linear4bit.js';
import type { StoredWeight } from './block-source.js';
import { quantize4bit, quantize4bitStored, quantizedBytes, type Codebook, type Quantized4bit } from './quantize.js';

export interface QuantizeModelOptions {
  codebook?: Codebook;
  blockSize?: number;
  /** Store the absmax constants in 8 bits (QLoRA's double quantization). */
  doubleQuant?: boolean;
  /** Which linear layers to quantize, by path (default: every Linear except lm_head, as bitsandbytes skips the output layer). */
  include?: (path: string) => boolean;
}

/** What quantizeModel stored, measured from the buffers it keeps. */
export interface QuantizationReport {
  readonly layers: readonly string[];
  /** Base weight elements quantized. */
  readonly parameters: number;
  /** Bytes of every buffer kept for them (codes, absmax or its 8-bit form, nested scales, offsets). */
  readonly bytes: number;
  readonly bitsPerParameter: number;
}

/** The linear layers a quantization pass replaces, in model order. */
export function quantizationTargets(model: Module, opts: QuantizeModelOptions = {}): Linear[] {
  const include = opts.include ?? ((p: string) => p.split('.').pop() !== 'lm_head');
  return [...model.modules()].filter((m): m is Linear => m instanceof Linear && include(m.path));
}

/** The 4-bit spec a Linear becomes. */
export function quantSpecOf(lin: Linear, opts: QuantizeModelOptions = {}): QuantBaseSpec {
  return {
    kind: '4bit',
    inFeatures: lin.inFeatures,
    outFeatures: lin.outFeatures,
    hasBias: lin.hasBias,
    codebook: opts.codebook ?? 'nf4',
    blockSize: opts.blockSize ?? 64,
    doubleQuant: opts.doubleQuant ?? false,
    nestedBlockSize: 256,
  };
}

/**
 * Quantizes one layer's W [out, in] (row-major values) and returns the stored
 * tensors under bitsandbytes' names (relative to the layer), and their bytes.
 */
export function quantizeLayer(path: string, spec: QuantBaseSpec, w: ArrayLike<number>): { tensors: [string, HostTensor][]; bytes: number } {
  checkBlocks(path, spec);
  return layerTensors(quantize4bit(w, [spec.outFeatures, spec.inFeatures], spec));
}

/**
 * quantizeLayer from the weight as stored (bf16, f16 or f32 bytes; [in, out]
 * when `transposed`), converted a chunk at a time: no f32 copy of the weight.
 */
export function quantizeStoredLayer(path: string, spec: QuantBaseSpec, stored: StoredWeight, transposed: boolean): { tensors: [string, HostTensor][]; bytes: number } {
  checkBlocks(path, spec);
  return layerTensors(quantize4bitStored(stored, [spec.outFeatures, spec.inFeatures], spec, transposed));
}

function checkBlocks(path: string, spec: QuantBaseSpec): void {
  const n = spec.outFeatures * spec.inFeatures;
  if (n % spec.blockSize !== 0) throw new QuantizationError(`'${path}' has ${n} weights, not a multiple of the block size ${spec.blockSize}`);
}

/** The stored tensors of a quantized weight under bitsandbytes' names (relative to the layer), and their bytes. */
function layerTensors(q: Quantized4bit): { tensors: [string, HostTensor][]; bytes: number } {
  const tensors: [string, HostTensor][] = [['weight', { shape: [q.codes.length], dtype: 'u8', data: q.codes }]];
  if (q.nested) {
    tensors.push(['weight.absmax', { shape: [q.nested.codes.length], dtype: 'u8', data: q.nested.codes }]);
    tensors.push(['weight.nested_absmax', { shape: [q.nested.scale.length], dtype: 'f32', data: q.nested.scale }]);
    tensors.push(['weight.nested_offset', { shape: [], dtype: 'f32', data: Float32Array.of(q.nested.offset) }]);
  } else {
    tensors.push(['weight.absmax', { shape: [q.absmax!.length], dtype: 'f32', data: q.absmax! }]);
  }
  return { tensors, bytes: quantizedBytes(q) };
}

/** Swaps a Linear for the 4-bit layer (same path, so parameter names stay). */
export function replaceWithLinear4bit(model: Module, lin: Linear, spec: QuantBaseSpec): void {
  const rel = model.path && lin.path.startsWith(`${model.path}.`) ? lin.path.slice(model.path.length + 1) : lin.path;
  model.replaceSubmodule(rel, new Linear4bit(spec));
}

export function quantizationReport(layers: readonly string[], parameters: number, bytes: number): QuantizationReport {
  return { layers, parameters, bytes, bitsPerParameter: parameters ? (8 * bytes) / parameters : 0 };
}

/**
 * Replaces linear layers by 4-bit layers (bitsandbytes' Linear4bit) and
 * returns the weights with each quantized weight in its stored form. A
 * fan-in-fan-out weight ([in, out]) is quantized as [out, in]. For a large
 * model whose weights are lazy, use quantizeModelStreaming (one tensor at a time).
 */
export function quantizeModel(
  model: Module,
  weights: WeightSource,
  opts: QuantizeModelOptions = {},
): { weights: Map<string, HostTensor>; report: QuantizationReport } {
  const out = toWeightMap(weights);
  const layers: string[] = [];
  let parameters = 0;
  let bytes = 0;
  for (const lin of quantizationTargets(model, opts)) {
    const spec = quantSpecOf(lin, opts);
    const w = baseWeightMatrix({ kind: 'dense', inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, hasBias: lin.hasBias, fanInFanOut: lin.fanInFanOut }, weights, lin.path);
    const q = quantizeLayer(lin.path, spec, w.data);
    out.delete(`${lin.path}.weight`);
    for (const [local, t] of q.tensors) out.set(`${lin.path}.${local}`, t);
    replaceWithLinear4bit(model, lin, spec);
    layers.push(lin.path);
    parameters += w.rows * w.cols;
    bytes += q.bytes;
  }
  return { weights: out, report: quantizationReport(layers, parameters, bytes) };
}
