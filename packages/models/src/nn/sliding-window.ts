import { ops, type Tensor } from '@lowrank/core';
import { MASKED } from './kv-cache.js';

/** Positions [S] as [S, 1] (queries) or [1, T] (keys); per-row positions [B, S] as [B, 1, S, 1] or [B, 1, 1, T]. */
function asAxis(positions: Tensor, axis: 'query' | 'key'): Tensor {
  const p = ops.cast(positions, 'f32');
  if (positions.rank === 1) return ops.reshape(p, axis === 'query' ? [positions.shape[0], 1] : [1, positions.shape[0]]);
  const [b, n] = positions.shape;
  return ops.reshape(p, axis === 'query' ? [b, 1, n, 1] : [b, 1, 1, n]);
}

/**
 * Additive mask hiding keys at or beyond `window` positions behind each
 * query: key position p_k stays visible to query position p_q iff
 * p_q - p_k < window (transformers' sliding-window overlay). Causality is
 * masked elsewhere. Keys are the step's own positions, or the cache slots.
 * [S, T] for one shared set of positions, [B, 1, S, T] for per-row ones.
 */
export function slidingWindowMask(queryPositions: Tensor, keyPositions: Tensor, window: number): Tensor {
  const outside = ops.greaterEqual(ops.sub(asAxis(queryPositions, 'query'), asAxis(keyPositions, 'key')), window);
  return ops.mul(ops.cast(outside, 'f32'), MASKED);
}
