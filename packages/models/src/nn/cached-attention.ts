import { ops, type Tensor } from '@lowrank/core';
import type { CacheStep, LayerKv } from './kv-cache.js';

export interface CachedAttentionOptions {
  scale: number;
  /** Soft-capping of the scaled scores before masking (Gemma 2). */
  softcap?: number | null;
  /** Additive mask [S, L] over cache slots (a sliding window); its columns at the step's slots mask the step's own keys. */
  extraMask?: Tensor;
}

/** [B, 1, S, T] mask repeated for G query heads per kv head: [B, 1, G·S, T]. */
function foldGroups(mask: Tensor, groups: number): Tensor {
  const [b, , s, t] = mask.shape;
  // A mask the same for every query row broadcasts as it is.
  if (groups === 1 || s === 1) return mask;
  // Rank 4 throughout (tfjs WebGPU's tile handles rank-5 broadcasts poorly): [B, 1, S, T] -> [B, G, S, T] -> [B, 1, G·S, T].
  return ops.reshape(ops.broadcastTo(mask, [b, groups, s, t]), [b, 1, groups * s, t]);
}

/**
 * Attention of a generation step over the cache as it was before the step
 * (layer.k, layer.v [B, KV, L, D]) plus the step's own keys and values
 * (kNew, vNew [B, KV, S, D]), with one softmax over both. Nothing the size of
 * the cache is copied: the query heads that share a kv head are folded into
 * its query rows ([B, KV, G·S, D]) instead of repeating the cache G times.
 */
export function attendCached(q: Tensor, kNew: Tensor, vNew: Tensor, layer: LayerKv & { step: CacheStep }, o: CachedAttentionOptions): Tensor {
  const [b, heads, s, d] = q.shape;
  const kvHeads = kNew.shape[1];
  const groups = heads / kvHeads;
  const L = layer.step.length;
  const qg = ops.reshape(q, [b, kvHeads, groups * s, d]);
  const score = (keys: Tensor) => {
    const raw = ops.mul(ops.matmul(qg, keys, { transB: true }), o.scale);
    return o.softcap ? ops.mul(ops.tanh(ops.div(raw, o.softcap)), o.softcap) : raw;
  };
  let pastMask = layer.step.pastMask;
  let newMask = layer.step.newMask;
  if (o.extraMask) {
    pastMask = ops.add(pastMask, o.extraMask);
    newMask = ops.add(newMask, ops.gather(o.extraMask, layer.step.slots, 1));
  }
  const past = ops.add(score(layer.k), foldGroups(pastMask, groups));
  const own = ops.add(score(kNew), foldGroups(newMask, groups));
  const p = ops.softmax(ops.concat([past, own], -1), -1);
  const out = ops.add(ops.matmul(ops.sliceAxis(p, -1, 0, L), layer.v), ops.matmul(ops.sliceAxis(p, -1, L, L + s), vNew));
  return ops.reshape(out, [b, heads, s, d]);
}
