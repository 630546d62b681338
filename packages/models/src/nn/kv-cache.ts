import { ops, type Tensor } from '@lowrank/core';

// Finite stand-in for -inf (as core's attention): keeps masked rows NaN-free on every backend.
export const MASKED = -1e30;

/** One layer's cached keys and values, [B, KV heads, L, D] with L the fixed cache length. */
export interface LayerKv {
  k: Tensor;
  v: Tensor;
}

/** A layer's cache after a step (k, v), and the step's own keys and values [B, KV, S, D] (newK, newV) written into it. */
export interface LayerKvUpdate extends LayerKv {
  newK: Tensor;
  newV: Tensor;
}

/**
 * How a step writes into a static-length cache and what it may read. Built
 * once per traced step from the i32 positions of its tokens, shared by all layers:
 * - write [L, S]: one-hot, slot l takes token s when positions[s] = l;
 * - keep [L, 1]: 1 for slots this step leaves alone;
 * - mask [S, L]: additive, 0 where slot l ≤ positions[s] (causal, and unused slots hidden).
 */
export interface CacheWriter {
  readonly length: number;
  readonly write: Tensor;
  readonly keep: Tensor;
  readonly mask: Tensor;
}

export function cacheWriter(positions: Tensor, length: number): CacheWriter {
  const g = positions.graph;
  const s = positions.shape[0];
  const slots = ops.arange(g, 0, length, 1, 'i32');
  const write = ops.cast(ops.equal(ops.reshape(slots, [length, 1]), ops.reshape(positions, [1, s])), 'f32');
  const keep = ops.sub(1, ops.sum(write, [1], true));
  const visible = ops.lessEqual(ops.reshape(slots, [1, length]), ops.reshape(positions, [s, 1]));
  const mask = ops.mul(ops.sub(1, ops.cast(visible, 'f32')), MASKED);
  return { length, write, keep, mask };
}

/** The cache after writing this step's keys or values [B, KV, S, D] into their slots. */
export function writeCache(cache: Tensor, fresh: Tensor, w: CacheWriter): Tensor {
  return ops.add(ops.mul(cache, w.keep), ops.matmul(w.write, fresh));
}
