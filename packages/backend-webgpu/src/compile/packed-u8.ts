import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@lowrank/core';
import { U8_UNPACK_KERNEL } from '../kernels/u8-unpack.js';

/**
 * Resident u8 parameters (QLoRA's 4-bit codes, two per byte) are stored four
 * bytes to an i32 word, little-endian, since tfjs has no 8-bit dtype: 1 byte
 * per value on the device instead of 4. The NF4 dequantize kernel reads the
 * packed words; any other op gets a temporary unpacked copy.
 */
export function uploadPackedU8(t: HostTensor): tf.Tensor {
  const n = t.data.length;
  const words = new Int32Array(Math.max(1, Math.ceil(n / 4)));
  for (let i = 0; i < n; i++) words[i >> 2] |= (Number(t.data[i]) & 0xff) << (8 * (i & 3));
  return tf.tensor1d(words, 'int32');
}

export async function downloadPackedU8(words: tf.Tensor, shape: readonly number[]): Promise<HostTensor> {
  const w = (await words.data()) as Int32Array;
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (w[i >> 2] >>> (8 * (i & 3))) & 0xff;
  return { shape: [...shape], dtype: 'u8', data };
}

/** One i32 per byte in the value's logical shape, for kernels that read u8 values plainly. */
export function unpackU8(words: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return tf.engine().runKernel(U8_UNPACK_KERNEL, { words }, { shape: [...shape] } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
