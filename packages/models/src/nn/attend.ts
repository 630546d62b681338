import { ops, type Tensor } from '@lowrank/core';
import { mergeHeads, repeatKv, splitHeads } from './heads.js';
import { attendCached } from './cached-attention.js';
import { MASKED, writeCache, writeSlots, type CacheWriter, type LayerKv, type LayerKvUpdate } from './kv-cache.js';

/** RoPE cos/sin tables [S, rotary dim] for the step's positions. */
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
  /** Rotary embedding of q and k (self-attention only); tables narrower than headDim rotate only the leading dims (partial rotary). */
  rope?: RopeTables;
  /** Static KV cache: this step's k/v are written into it and attention reads all of it. */
  cache?: { layer: LayerKv; writer: CacheWriter };
  /** Per-head normalisation of q and k [B, H, S, D] before rotation (Qwen3's q_norm / k_norm). */
  qNorm?: (q: Tensor) => Tensor;
  kNorm?: (k: Tensor) => Tensor;
  /** Additive mask [S, T] on top of the causal / cache mask (a sliding window). */
  extraMask?: Tensor;
  /** Soft-capping of the scaled scores: cap · tanh(scores / cap) before masking (Gemma 2). */
  softcap?: number | null;
}

/** Rotary embedding of x [B, H, S, D] on its first `rotary` dims (all of them when the tables are headDim wide). */
function rotate(x: Tensor, rope: RopeTables): Tensor {
  const d = x.shape[x.rank - 1];
  const rotary = rope.cos.shape[rope.cos.rank - 1];
  if (rotary === d) return ops.rope(x, rope.cos, rope.sin);
  const turned = ops.rope(ops.sliceAxis(x, -1, 0, rotary), rope.cos, rope.sin);
  return ops.concat([turned, ops.sliceAxis(x, -1, rotary, d)], -1);
}

/**
 * softmax(cap·tanh(q·kᵀ·scale / cap) + mask)·v, written out because the
 * capping sits between the scaling and the mask, inside core's attention op.
 */
function softcappedAttention(q: Tensor, k: Tensor, v: Tensor, o: { scale: number; cap: number; causal: boolean; mask?: Tensor }): Tensor {
  let scores = ops.mul(ops.matmul(q, k, { transB: true }), o.scale);
  scores = ops.mul(ops.tanh(ops.div(scores, o.cap)), o.cap);
  if (o.mask) scores = ops.add(scores, o.mask);
  if (o.causal) {
    const sq = q.shape[q.rank - 2];
    const sk = k.shape[k.rank - 2];
    const future = Array.from({ length: sq * sk }, (_, i) => ((i % sk) <= Math.floor(i / sk) + (sk - sq) ? 0 : MASKED));
    scores = ops.add(scores, ops.constant(q.graph, future, [sq, sk]));
  }
  return ops.matmul(ops.softmax(scores, -1), v);
}

/**
 * Multi-head attention from projected q [B, S, H·D] and k, v [B, T, KV·D]:
 * split heads, normalise and rotate, update the cache, share kv heads across
 * query groups, attend, merge heads. Cross-attention is this with k, v from another sequence.
 */
export function attendHeads(q2: Tensor, k2: Tensor, v2: Tensor, o: AttendOptions): { out: Tensor; kv?: LayerKvUpdate } {
  let q = splitHeads(q2, o.heads, o.headDim);
  let k = splitHeads(k2, o.kvHeads, o.headDim);
  let v = splitHeads(v2, o.kvHeads, o.headDim);
  if (o.qNorm) q = o.qNorm(q);
  if (o.kNorm) k = o.kNorm(k);
  if (o.rope) {
    q = rotate(q, o.rope);
    k = rotate(k, o.rope);
  }
  const step = o.cache?.layer.step;
  if (o.cache && step) {
    // Generation's resident cache: read it as it was, plus this step's keys and values (cached-attention.ts).
    const layer = { ...o.cache.layer, step };
    const out = attendCached(q, k, v, layer, { scale: o.scale, ...(o.softcap ? { softcap: o.softcap } : {}), ...(o.extraMask ? { extraMask: o.extraMask } : {}) });
    return { out: mergeHeads(out), kv: { k: writeSlots(layer.k, k, step), v: writeSlots(layer.v, v, step), newK: k, newV: v } };
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
  if (o.extraMask) mask = mask ? ops.add(mask, o.extraMask) : o.extraMask;
  const groups = o.heads / o.kvHeads;
  const [kAll, vAll] = [repeatKv(k, groups), repeatKv(v, groups)];
  const causal = o.causal && !o.cache;
  const out = o.softcap
    ? softcappedAttention(q, kAll, vAll, { scale: o.scale, cap: o.softcap, causal, ...(mask ? { mask } : {}) })
    : ops.attention(q, kAll, vAll, { causal, scale: o.scale, ...(mask ? { mask } : {}) });
  return kv ? { out: mergeHeads(out), kv } : { out: mergeHeads(out) };
}
