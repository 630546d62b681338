import { Linear, Module, ops, type Tensor } from '@lowrank/core';
import { attendHeads } from './attend.js';
import { callChild } from './call.js';
import type { CacheWriter, LayerKv, LayerKvUpdate } from './kv-cache.js';

/**
 * GPT-2 attention: one Conv1D c_attn [E, 3E] (stored [in, out]) producing
 * q, k, v side by side, and c_proj; scale 1/√d, optionally also 1/(layer+1).
 */
export class GPT2Attention extends Module {
  constructor(
    readonly embed: number,
    readonly heads: number,
    readonly scale: number,
  ) {
    super();
    this.addModule('c_attn', new Linear(embed, 3 * embed, { fanInFanOut: true }));
    this.addModule('c_proj', new Linear(embed, embed, { fanInFanOut: true }));
  }

  forward(x: Tensor, call: { causal: boolean; cache?: { layer: LayerKv; writer: CacheWriter } }): { out: Tensor; kv?: LayerKvUpdate } {
    const qkv = callChild(this, 'c_attn', x);
    const e = this.embed;
    const [q, k, v] = [0, 1, 2].map((i) => ops.sliceAxis(qkv, -1, i * e, (i + 1) * e));
    const res = attendHeads(q, k, v, {
      heads: this.heads,
      kvHeads: this.heads,
      headDim: e / this.heads,
      scale: this.scale,
      causal: call.causal,
      ...(call.cache ? { cache: call.cache } : {}),
    });
    const out = callChild(this, 'c_proj', res.out);
    return res.kv ? { out, kv: res.kv } : { out };
  }
}
