import type { Tensor } from '../../graph/tensor.js';
import { add, cast, concat, constant, cos, matmul, mul, neg, reshape, sin, sliceAxis } from '../emit.js';
import { defineOp, dtypeRule, shapeRule } from '../registry.js';

/**
 * Rotary embedding in Hugging Face LLaMA's rotate-half layout:
 * x·cos + rotate_half(x)·sin with rotate_half(x) = [-x2, x1] (x1, x2 the two halves of the head dim).
 */
defineOp({
  name: 'rope',
  kind: 'composite',
  expand: ([x, c, s]) => {
    const d = x.shape[x.rank - 1];
    if (d % 2 !== 0) shapeRule(`head dim ${d} must be even`);
    if (c.shape[c.rank - 1] !== d || s.shape[s.rank - 1] !== d) shapeRule(`cos and sin must end in the head dim ${d}`);
    const x1 = sliceAxis(x, -1, 0, d / 2);
    const x2 = sliceAxis(x, -1, d / 2, d);
    const rotated = concat([neg(x2), x1], -1);
    return add(mul(x, c), mul(rotated, s));
  },
});

export { rope } from '../emit.js';

/**
 * cos and sin tables [seq, dim] for i32 `positions` [seq], as transformers builds them:
 * inv_freq = theta^(-2i/dim), freqs = pos ⊗ inv_freq, emb = [freqs, freqs].
 */
export function ropeTables(positions: Tensor, dim: number, theta: number): { cos: Tensor; sin: Tensor } {
  if (positions.dtype !== 'i32' || positions.rank !== 1) dtypeRule('positions must be an i32 vector');
  const half = dim / 2;
  const invFreq = Array.from({ length: half }, (_, i) => 1 / Math.pow(theta, (2 * i) / dim));
  const inv = constant(positions.graph, [...invFreq, ...invFreq], [1, dim]);
  const pos = reshape(cast(positions, 'f32'), [positions.shape[0], 1]);
  const freqs = matmul(pos, inv);
  return { cos: cos(freqs), sin: sin(freqs) };
}
