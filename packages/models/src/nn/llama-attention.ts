import { Linear, Module, type Tensor } from '@lowrank/core';
import { attendHeads, type RopeTables } from './attend.js';
import { callChild } from './call.js';
import type { CacheWriter, LayerKv, LayerKvUpdate } from './kv-cache.js';

export interface AttentionShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  bias: boolean;
  /** Width of the key/value source (cross-attention over a sequence of another width); default hidden. */
  kvSourceWidth?: number;
}

export interface AttentionCall {
  /** Cross-attention: keys and values come from this sequence [B, T, width], without rope or causal mask. */
  kvSource?: Tensor;
  rope?: RopeTables;
  causal: boolean;
  cache?: { layer: LayerKv; writer: CacheWriter };
}

/**
 * LLaMA attention (q_proj, k_proj, v_proj, o_proj) with grouped-query heads.
 * The same module is the cross-attention of the encoder-decoder example.
 */
export class LlamaAttention extends Module {
  constructor(readonly shape: AttentionShape) {
    super();
    const { hidden, heads, kvHeads, headDim, bias } = shape;
    const src = shape.kvSourceWidth ?? hidden;
    this.addModule('q_proj', new Linear(hidden, heads * headDim, { bias }));
    this.addModule('k_proj', new Linear(src, kvHeads * headDim, { bias }));
    this.addModule('v_proj', new Linear(src, kvHeads * headDim, { bias }));
    this.addModule('o_proj', new Linear(heads * headDim, hidden, { bias }));
  }

  forward(x: Tensor, call: AttentionCall): { out: Tensor; kv?: LayerKvUpdate } {
    const src = call.kvSource ?? x;
    const q = callChild(this, 'q_proj', x);
    const k = callChild(this, 'k_proj', src);
    const v = callChild(this, 'v_proj', src);
    const { heads, kvHeads, headDim } = this.shape;
    const res = attendHeads(q, k, v, {
      heads,
      kvHeads,
      headDim,
      scale: 1 / Math.sqrt(headDim),
      causal: call.causal,
      ...(call.rope ? { rope: call.rope } : {}),
      ...(call.cache ? { cache: call.cache } : {}),
    });
    const out = callChild(this, 'o_proj', res.out);
    return res.kv ? { out, kv: res.kv } : { out };
  }
}
