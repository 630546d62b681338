import { Linear, Module, ops, type Tensor } from '@lowrank/core';
import { attendHeads } from './attend.js';
import { callChild } from './call.js';
import type { LayerKvUpdate } from './kv-cache.js';
import type { AttentionCall } from './llama-attention.js';

/**
 * Phi-3 attention: one fused qkv_proj [(H + 2·KV)·D, hidden] whose output is
 * q, then k, then v along the last axis, and o_proj. A LoRA on qkv_proj adapts
 * the fused weight as a whole, as PEFT does.
 */
export class FusedQkvAttention extends Module {
  constructor(readonly shape: { hidden: number; heads: number; kvHeads: number; headDim: number }) {
    super();
    const { hidden, heads, kvHeads, headDim } = shape;
    this.addModule('o_proj', new Linear(heads * headDim, hidden, { bias: false }));
    this.addModule('qkv_proj', new Linear(hidden, (heads + 2 * kvHeads) * headDim, { bias: false }));
  }

  forward(x: Tensor, call: AttentionCall): { out: Tensor; kv?: LayerKvUpdate } {
    const { heads, kvHeads, headDim } = this.shape;
    const qkv = callChild(this, 'qkv_proj', x);
    const qEnd = heads * headDim;
    const kEnd = qEnd + kvHeads * headDim;
    const q = ops.sliceAxis(qkv, -1, 0, qEnd);
    const k = ops.sliceAxis(qkv, -1, qEnd, kEnd);
    const v = ops.sliceAxis(qkv, -1, kEnd, kEnd + kvHeads * headDim);
    const res = attendHeads(q, k, v, {
      heads,
      kvHeads,
      headDim,
      scale: 1 / Math.sqrt(headDim),
      causal: call.causal,
      ...(call.rope ? { rope: call.rope } : {}),
      ...(call.cache ? { cache: call.cache } : {}),
      ...(call.windowMask ? { extraMask: call.windowMask } : {}),
    });
    const out = callChild(this, 'o_proj', res.out);
    return res.kv ? { out, kv: res.kv } : { out };
  }
}
