import * as tf from '@tensorflow/tfjs-core';
import { allocHostData, f16BitsToNumber, numberToBf16Bits, numberToF16Bits, type DType, type HostData, type HostTensor } from '@lowrank/core';

/**
 * How core dtypes live in tfjs: u8 has no tfjs dtype, so it is stored as
 * int32 holding 0..255 and wrapped back into range after arithmetic. bf16 and
 * f16 (storage dtypes of frozen weights) are upcast to float32 on upload, exactly:
 * the graph's cast to f32 then has nothing left to do.
 */
export function tfDtype(dtype: DType): 'float32' | 'int32' | 'bool' {
  switch (dtype) {
    case 'f32':
    case 'bf16':
    case 'f16':
      return 'float32';
    case 'i32':
    case 'u8':
      return 'int32';
    case 'bool':
      return 'bool';
  }
}

/** Host values in the typed array tfjs wants for `dtype` (copies only when the array type differs). */
export function toTfValues(dtype: DType, data: HostData): Float32Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>, (v) => v | 0);
    case 'u8':
      return Int32Array.from(data as ArrayLike<number>, (v) => v & 0xff);
    case 'bool':
      return Uint8Array.from(data as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
    case 'bf16':
      return halfBitsToF32(data, 'bf16');
    case 'f16':
      return halfBitsToF32(data, 'f16');
  }
}

/** 16-bit float bits (a Uint16Array) to their exact f32 values. */
function halfBitsToF32(data: HostData, dtype: 'bf16' | 'f16'): Float32Array {
  const bits = data as ArrayLike<number>;
  const out = new Float32Array(bits.length);
  if (dtype === 'bf16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) u[i] = (bits[i] & 0xffff) << 16;
  } else {
    for (let i = 0; i < bits.length; i++) out[i] = f16BitsToNumber(bits[i]);
  }
  return out;
}

export function upload(t: HostTensor): tf.Tensor {
  return tf.tensor(toTfValues(t.dtype, t.data), [...t.shape], tfDtype(t.dtype));
}

/** Reads a tensor back as a HostTensor of the core dtype. */
export async function download(t: tf.Tensor, dtype: DType): Promise<HostTensor> {
  const values = (await t.data()) as ArrayLike<number>;
  const data = allocHostData(dtype, t.size);
  if (dtype === 'bf16' || dtype === 'f16') {
    // A 16-bit parameter was held as its exact f32 upcast: rounding back returns the original bits.
    const toBits = dtype === 'bf16' ? numberToBf16Bits : numberToF16Bits;
    for (let i = 0; i < t.size; i++) data[i] = toBits(values[i]);
  } else data.set(values);
  return { shape: [...t.shape], dtype, data };
}
