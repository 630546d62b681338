import { ops, type Tensor } from '@lowrank/core';
import { mergeHeads, repeatKv, splitHeads } from './heads.js';
import { writeCache, type CacheWriter, type LayerKv, type LayerKvUpdate } from './kv-cache.js';

/** RoPE cos/sin tables [S, head dim] for the step's positions. */
export interface RopeTables {
  cos: Tensor;
  sin: Tensor;
}

export interface AttendOptions {
  heads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  /** Causal masking over the whole sequence (no cache). */
  causal: boolean;
  /** Rotary embedding of q and k (self-attention only). */
  rope?: RopeTables;
  /** Static KV cache: this step's k/v are written into it and attention reads all of it. */
  cache?: { layer: LayerKv; writer: CacheWriter };
}

/**
 * Multi-head attention from projected q [B, S, H·D] and k, v [B, T, KV·D]:
 * split heads, rotate, update the cache, share kv heads across query groups,
 * attend, merge heads. Cross-attention is this with k, v from another sequence.
 */
export function attendHeads(q2: Tensor, k2: Tensor, v2: Tensor, o: AttendOptions): { out: Tensor; kv?: LayerKvUpdate } {
  let q = splitHeads(q2, o.heads, o.headDim);
  let k = splitHeads(k2, o.kvHeads, o.headDim);
  let v = splitHeads(v2, o.kvHeads, o.headDim);
  if (o.rope) {
    q = ops.rope(q, o.rope.cos, o.rope.sin);
    k = ops.rope(k, o.rope.cos, o.rope.sin);
  }
  let kv: LayerKvUpdate | undefined;
  let mask: Tensor | undefined;
  if (o.cache) {
    const [newK, newV] = [k, v];
    k = writeCache(o.cache.layer.k, k, o.cache.writer);
    v = writeCache(o.cache.layer.v, v, o.cache.writer);
    kv = { k, v, newK, newV };
    mask = o.cache.writer.mask;
  }
  const groups = o.heads / o.kvHeads;
  const out = ops.attention(q, repeatKv(k, groups), repeatKv(v, groups), {
    causal: o.causal && !o.cache,
    scale: o.scale,
    ...(mask ? { mask } : {}),
  });
  return kv ? { out: mergeHeads(out), kv } : { out: mergeHeads(out) };
}
