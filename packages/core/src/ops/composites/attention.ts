import { add, constant, matmul, mul, softmax, where } from '../emit.js';
import { defineOp, shapeRule } from '../registry.js';

type AttentionAttrs = { causal: boolean; scale: number; hasMask: boolean };

// Finite stand-in for -inf: keeps fully masked rows free of NaN on every backend.
const MASKED = -1e30;

/**
 * Scaled dot-product attention softmax(q·kᵀ·scale + mask)·v over the last two axes.
 * q [..., Sq, d], k [..., Sk, d], v [..., Sk, dv]; an optional additive mask broadcasts to [..., Sq, Sk].
 * Causal masking aligns the query block to the end of the keys, so it also serves a KV cache.
 * Cross-attention is the same op with k and v from another sequence.
 */
defineOp<AttentionAttrs>({
  name: 'attention',
  kind: 'composite',
  expand: (inputs, a) => {
    const [q, k, v, mask] = inputs;
    const sq = q.shape[q.rank - 2];
    const sk = k.shape[k.rank - 2];
    if (q.shape[q.rank - 1] !== k.shape[k.rank - 1]) shapeRule('q and k must share the head dim');
    if (v.shape[v.rank - 2] !== sk) shapeRule('k and v must have the same sequence length');
    let scores = mul(matmul(q, k, { transB: true }), a.scale);
    if (a.hasMask) scores = add(scores, mask);
    if (a.causal) {
      const allowed = Array.from({ length: sq * sk }, (_, idx) => (idx % sk <= Math.floor(idx / sk) + (sk - sq) ? 1 : 0));
      scores = where(constant(q.graph, allowed, [sq, sk], 'bool'), scores, MASKED);
    }
    return matmul(softmax(scores, -1), v);
  },
  flops: ([q, k, v]) => {
    const batch = q.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const [sq, d] = q.shape.slice(-2);
    const sk = k.shape[k.shape.length - 2];
    return batch * (2 * sq * sk * d + 2 * sq * sk * v.shape[v.shape.length - 1] + 5 * sq * sk);
  },
});

export { attention, type AttentionOptions } from '../emit.js';
