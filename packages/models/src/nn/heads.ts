import { ops, type Tensor } from '@lowrank/core';

/** [B, S, H·D] → [B, H, S, D]. */
export function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  const [b, s] = x.shape;
  return ops.transpose(ops.reshape(x, [b, s, heads, headDim]), [0, 2, 1, 3]);
}

/** [B, H, S, D] → [B, S, H·D]. */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, s, d] = x.shape;
  return ops.reshape(ops.transpose(x, [0, 2, 1, 3]), [b, s, h * d]);
}

/**
 * Grouped-query attention: each key/value head serves `groups` consecutive
 * query heads (query head h reads kv head ⌊h / groups⌋, as transformers' repeat_kv).
 */
export function repeatKv(x: Tensor, groups: number): Tensor {
  if (groups === 1) return x;
  const [b, kv, s, d] = x.shape;
  // Rank 3 throughout: some backends (tfjs WebGPU's tile) handle rank-5 broadcasts poorly.
  const spread = ops.broadcastTo(ops.reshape(x, [b * kv, 1, s * d]), [b * kv, groups, s * d]);
  return ops.reshape(spread, [b, kv * groups, s, d]);
}
