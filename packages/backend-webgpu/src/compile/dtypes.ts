import * as tf from '@tensorflow/tfjs-core';
import { allocHostData, type DType, type HostData, type HostTensor } from '@lowrank/core';

/**
 * How core dtypes live in tfjs: u8 has no tfjs dtype, so it is stored as
 * int32 holding 0..255 and wrapped back into range after arithmetic.
 */
export function tfDtype(dtype: DType): 'float32' | 'int32' | 'bool' {
  switch (dtype) {
    case 'f32':
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
  }
}

export function upload(t: HostTensor): tf.Tensor {
  return tf.tensor(toTfValues(t.dtype, t.data), [...t.shape], tfDtype(t.dtype));
}

/** Reads a tensor back as a HostTensor of the core dtype. */
export async function download(t: tf.Tensor, dtype: DType): Promise<HostTensor> {
  const values = (await t.data()) as ArrayLike<number>;
  const data = allocHostData(dtype, t.size);
  data.set(values);
  return { shape: [...t.shape], dtype, data };
}
