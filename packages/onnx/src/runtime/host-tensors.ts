import { SignatureError, shapesEqual, type DType, type HostTensor } from '@lowrank/core';
import { Tensor } from 'onnxruntime-node';

const ortType = { f32: 'float32', i32: 'int32', u8: 'uint8', bool: 'bool', f16: 'float16', bf16: 'bfloat16' } as const;

/**
 * A host tensor as an ORT tensor of the dtype the graph expects. ORT does not
 * write its inputs, so a per-run feed of the right element type is wrapped
 * without a copy; `copy` is for values kept across runs (parameters).
 */
export function toOrtTensor(t: HostTensor, dtype: DType, what: string, copy = false): Tensor {
  if (t.dtype !== dtype) throw new SignatureError(`${what} expects dtype ${dtype}, got ${t.dtype}`);
  const dims = [...t.shape];
  const d = t.data;
  switch (dtype) {
    case 'f32':
      return new Tensor('float32', d instanceof Float32Array ? (copy ? d.slice() : d) : new Float32Array(d), dims);
    case 'i32':
      return new Tensor('int32', d instanceof Int32Array ? (copy ? d.slice() : d) : new Int32Array(d), dims);
    case 'u8':
      return new Tensor('uint8', d instanceof Uint8Array ? (copy ? d.slice() : d) : new Uint8Array(d), dims);
    case 'bool':
      return new Tensor('bool', Uint8Array.from(d, (v) => (v ? 1 : 0)), dims);
    case 'f16':
      return new Tensor('float16', d instanceof Uint16Array ? (copy ? d.slice() : d) : new Uint16Array(d), dims);
    case 'bf16':
      // onnxruntime-node has no bfloat16 tensors: such values live only as initializers (frozen weights).
      throw new SignatureError(`${what} is bf16, which onnxruntime-node cannot take as an input; keep it a frozen parameter (an initializer) or use --base-dtype f16/f32`);
  }
}

/** Checks a fed value against the graph's declared shape. */
export function checkShape(t: { readonly shape: readonly number[] }, shape: readonly number[], what: string): void {
  if (!shapesEqual(t.shape, shape)) throw new SignatureError(`${what} expects shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
}

/**
 * An ORT result as a host tensor. ORT allocates fresh output buffers per run,
 * so results are handed over without a copy unless `copy` (a value that also
 * stays resident as updated state).
 */
export function fromOrtTensor(t: Tensor, dtype: DType, copy = false): HostTensor {
  const shape = t.dims.map(Number);
  const src = t.data;
  switch (dtype) {
    case 'f32':
      return { shape, dtype, data: copy ? (src as Float32Array).slice() : (src as Float32Array) };
    case 'i32':
      return { shape, dtype, data: copy ? (src as Int32Array).slice() : (src as Int32Array) };
    case 'f16':
    case 'bf16':
      return { shape, dtype, data: copy ? (src as Uint16Array).slice() : (src as Uint16Array) };
    default:
      return { shape, dtype, data: src instanceof Uint8Array ? (copy ? src.slice() : src) : Uint8Array.from(src as ArrayLike<number>, (v) => Number(v)) };
  }
}

export const ortTypeOf = (dtype: DType): string => ortType[dtype];
