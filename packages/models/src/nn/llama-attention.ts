import { Linear, Module, RMSNorm, type Tensor } from '@lowrank/core';
import { attendHeads, type RopeTables } from './attend.js';
import { callChild } from './call.js';
import type { CacheWriter, LayerKv, LayerKvUpdate } from './kv-cache.js';

export interface AttentionShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Bias on q_proj, k_proj, v_proj (and o_proj unless outputBias says otherwise). */
  bias: boolean;
  /** Bias on o_proj; default `bias` (Qwen2 has q/k/v biases and none on o_proj). */
  outputBias?: boolean;
  /** Width of the key/value source (cross-attention over a sequence of another width); default hidden. */
  kvSourceWidth?: number;
  /** Adds q_norm and k_norm, RMSNorms over head_dim with this eps applied per head before RoPE (Qwen3). */
  qkNormEps?: number;
  /** Score scale; default head_dim^-0.5 (Gemma 2: query_pre_attn_scalar^-0.5). */
  scale?: number;
  /** Attention logit soft-capping (Gemma 2's attn_logit_softcapping). */
  softcap?: number | null;
}

export interface AttentionCall {
  /** Cross-attention: keys and values come from this sequence [B, T, width], without rope or causal mask. */
  kvSource?: Tensor;
  rope?: RopeTables;
  causal: boolean;
  cache?: { layer: LayerKv; writer: CacheWriter };
  /** Additive [S, T] mask of a sliding-window layer. */
  windowMask?: Tensor;
}

/**
 * LLaMA attention (q_proj, k_proj, v_proj, o_proj) with grouped-query heads,
 * and the options by which Qwen2, Qwen3, Mistral and Gemma 2 differ from it.
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
    this.addModule('o_proj', new Linear(heads * headDim, hidden, { bias: shape.outputBias ?? bias }));
    if (shape.qkNormEps !== undefined) {
      this.addModule('q_norm', new RMSNorm(headDim, shape.qkNormEps));
      this.addModule('k_norm', new RMSNorm(headDim, shape.qkNormEps));
    }
  }

  forward(x: Tensor, call: AttentionCall): { out: Tensor; kv?: LayerKvUpdate } {
    const src = call.kvSource ?? x;
    const q = callChild(this, 'q_proj', x);
    const k = callChild(this, 'k_proj', src);
    const v = callChild(this, 'v_proj', src);
    const { heads, kvHeads, headDim } = this.shape;
    const qkNorm = this.shape.qkNormEps !== undefined;
    const res = attendHeads(q, k, v, {
      heads,
      kvHeads,
      headDim,
      scale: this.shape.scale ?? 1 / Math.sqrt(headDim),
      causal: call.causal,
      softcap: this.shape.softcap ?? null,
      ...(qkNorm ? { qNorm: (t: Tensor) => callChild(this, 'q_norm', t), kNorm: (t: Tensor) => callChild(this, 'k_norm', t) } : {}),
      ...(call.rope ? { rope: call.rope } : {}),
      ...(call.cache ? { cache: call.cache } : {}),
      ...(call.windowMask ? { extraMask: call.windowMask } : {}),
    });
    const out = callChild(this, 'o_proj', res.out);
    return res.kv ? { out, kv: res.kv } : { out };
  }
}
