import { f16BitsToNumber, type HostTensor, type Shape } from '@lowrank/core';
import type { BaseLayerSpec, QuantBaseSpec } from './base-layer.js';
import { WeightMismatchError } from './errors.js';
import { matrix, transpose, type Matrix } from './linalg/matrix.js';
import { dequantize4bit, type Quantized4bit } from './qlora/quantize.js';

/** Parameter values by full name: a Map (as @lowrank/models returns) or a plain record. */
export type WeightSource = ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;

export function toWeightMap(src: WeightSource): Map<string, HostTensor> {
  return src instanceof Map ? new Map(src) : new Map(Object.entries(src as Record<string, HostTensor>));
}

export function getTensor(src: WeightSource, name: string, shape?: Shape): HostTensor {
  const t: HostTensor | undefined = src instanceof Map ? (src as ReadonlyMap<string, HostTensor>).get(name) : (src as Record<string, HostTensor>)[name];
  if (!t) throw new WeightMismatchError(name, 'is missing from the weights; pass the base model weights (and adapter values) that the model declares');
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new WeightMismatchError(name, `has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/** A float tensor's values as f32: a bf16/f16 weight's bits decoded (exactly: every 16-bit float is an f32). */
export function floatValues(t: HostTensor): ArrayLike<number> {
  if (t.dtype !== 'bf16' && t.dtype !== 'f16') return t.data;
  const bits = t.data as Uint16Array;
  const out = new Float32Array(bits.length);
  if (t.dtype === 'bf16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  } else {
    for (let i = 0; i < bits.length; i++) out[i] = f16BitsToNumber(bits[i]);
  }
  return out;
}

export function readMatrix(src: WeightSource, name: string, rows: number, cols: number): Matrix {
  return matrix(rows, cols, floatValues(getTensor(src, name, [rows, cols])));
}

export function f32(shape: Shape, data: ArrayLike<number>): HostTensor {
  return { shape: [...shape], dtype: 'f32', data: Float32Array.from(data) };
}

/** The quantized weight of a 4-bit layer as stored under `prefix` (the layer path). */
export function quantizedFromState(spec: QuantBaseSpec, src: WeightSource, prefix: string): Quantized4bit {
  const n = spec.inFeatures * spec.outFeatures;
  const blocks = n / spec.blockSize;
  const key = (local: string) => (prefix ? `${prefix}.${local}` : local);
  const codes = Uint8Array.from(getTensor(src, key('weight'), [n / 2]).data);
  const base = { shape: [spec.outFeatures, spec.inFeatures] as const, codebook: spec.codebook, blockSize: spec.blockSize, codes };
  if (!spec.doubleQuant) return { ...base, absmax: Float32Array.from(getTensor(src, key('weight.absmax'), [blocks]).data) };
  return {
    ...base,
    nested: {
      codes: Uint8Array.from(getTensor(src, key('weight.absmax'), [blocks]).data),
      scale: Float32Array.from(getTensor(src, key('weight.nested_absmax'), [Math.ceil(blocks / spec.nestedBlockSize)]).data),
      offset: getTensor(src, key('weight.nested_offset'), []).data[0],
      blockSize: spec.nestedBlockSize,
    },
  };
}

/** W [out, in] of a base layer from its stored values (transposed for fanInFanOut, dequantized for 4-bit). */
export function baseWeightMatrix(spec: BaseLayerSpec, src: WeightSource, prefix: string): Matrix {
  const name = prefix ? `${prefix}.weight` : 'weight';
  if (spec.kind === '4bit') return matrix(spec.outFeatures, spec.inFeatures, dequantize4bit(quantizedFromState(spec, src, prefix)));
  if (spec.fanInFanOut) return transpose(readMatrix(src, name, spec.inFeatures, spec.outFeatures));
  return readMatrix(src, name, spec.outFeatures, spec.inFeatures);
}
