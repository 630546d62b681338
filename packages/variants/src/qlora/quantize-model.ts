import { Linear, type HostTensor, type Module } from '@lowrank/core';
import type { QuantBaseSpec } from '../base-layer.js';
import { QuantizationError } from '../errors.js';
import { baseWeightMatrix, toWeightMap, type WeightSource } from '../weights.js';
import { Linear4bit } from './linear4bit.js';
import { quantize4bit, quantizedBytes, type Codebook } from './quantize.js';

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

/**
 * Replaces linear layers by 4-bit layers (bitsandbytes' Linear4bit) and
 * returns the weights with each quantized weight in its stored form. A
 * fan-in-fan-out weight ([in, out]) is quantized as [out, in].
 */
export function quantizeModel(
  model: Module,
  weights: WeightSource,
  opts: QuantizeModelOptions = {},
): { weights: Map<string, HostTensor>; report: QuantizationReport } {
  const include = opts.include ?? ((p: string) => p.split('.').pop() !== 'lm_head');
  const out = toWeightMap(weights);
  const layers: string[] = [];
  let parameters = 0;
  let bytes = 0;
  const targets = [...model.modules()].filter((m): m is Linear => m instanceof Linear && include(m.path));
  for (const lin of targets) {
    const spec: QuantBaseSpec = {
      kind: '4bit',
      inFeatures: lin.inFeatures,
      outFeatures: lin.outFeatures,
      hasBias: lin.hasBias,
      codebook: opts.codebook ?? 'nf4',
      blockSize: opts.blockSize ?? 64,
      doubleQuant: opts.doubleQuant ?? false,
      nestedBlockSize: 256,
    };
    const w = baseWeightMatrix({ kind: 'dense', inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, hasBias: lin.hasBias, fanInFanOut: lin.fanInFanOut }, weights, lin.path);
    if ((w.rows * w.cols) % spec.blockSize !== 0) throw new QuantizationError(`'${lin.path}' has ${w.rows * w.cols} weights, not a multiple of the block size ${spec.blockSize}`);
    const q = quantize4bit(w.data, [w.rows, w.cols], spec);
    const key = (local: string) => `${lin.path}.${local}`;
    out.delete(key('weight'));
    out.set(key('weight'), { shape: [q.codes.length], dtype: 'u8', data: q.codes });
    if (q.nested) {
      out.set(key('weight.absmax'), { shape: [q.nested.codes.length], dtype: 'u8', data: q.nested.codes });
      out.set(key('weight.nested_absmax'), { shape: [q.nested.scale.length], dtype: 'f32', data: q.nested.scale });
      out.set(key('weight.nested_offset'), { shape: [], dtype: 'f32', data: Float32Array.of(q.nested.offset) });
    } else {
      out.set(key('weight.absmax'), { shape: [q.absmax!.length], dtype: 'f32', data: q.absmax! });
    }
    const rel = model.path && lin.path.startsWith(`${model.path}.`) ? lin.path.slice(model.path.length + 1) : lin.path;
    model.replaceSubmodule(rel, new Linear4bit(spec));
    layers.push(lin.path);
    parameters += w.rows * w.cols;
    bytes += quantizedBytes(q);
  }
  return { weights: out, report: { layers, parameters, bytes, bitsPerParameter: parameters ? (8 * bytes) / parameters : 0 } };
}
