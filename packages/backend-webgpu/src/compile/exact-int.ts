import * as tf from '@tensorflow/tfjs-core';
import { INT_JOIN_KERNEL, INT_SPLIT_KERNEL } from '../kernels/int-movement.js';

const split = (x: tf.Tensor, high: boolean): tf.Tensor =>
  tf.engine().runKernel(INT_SPLIT_KERNEL, { x }, { high } as unknown as tf.NamedAttrMap) as tf.Tensor;

/**
 * Runs a data-movement op (transpose, slice, pad, gather, ...) on i32 tensors
 * without losing bits. tfjs's WebGPU copy kernels pass values through f32
 * (exact only below 2^24) and some of their int32 shader variants do not
 * compile, so each i32 input is split into its high and low 16-bit halves as
 * f32 (both exact), the op moves both, and our kernel joins them again.
 * `move` receives the f32 halves in place of `ints`.
 */
export function moveIntsExactly(ints: readonly tf.Tensor[], move: (parts: readonly tf.Tensor[]) => tf.Tensor): tf.Tensor {
  const high = move(ints.map((t) => split(t, true)));
  const low = move(ints.map((t) => split(t, false)));
  return tf.engine().runKernel(INT_JOIN_KERNEL, { high, low }, {}) as tf.Tensor;
}
