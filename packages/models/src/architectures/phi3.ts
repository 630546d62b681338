import { Embedding, Module, ops, RMSNorm, type Tensor } from '@lowrank/core';
import type { Phi3Config } from '../config/index.js';
import { callChild, childOf } from '../nn/call.js';
import { FusedQkvAttention } from '../nn/fused-attention.js';
import type { LayerKvUpdate } from '../nn/kv-cache.js';
import { FusedGateUpMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { LanguageModel, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { decoderForward, type DecoderLayerContext } from './decoder-stack.js';
import { decoderCacheLayout, untiedHead } from './llama.js';

/** One Phi-3 block: LLaMA's pre-norm residual layout with fused projections. */
export class Phi3DecoderLayer extends Module {
  constructor(c: Phi3Config) {
    super();
    this.addModule('self_attn', new FusedQkvAttention({ hidden: c.hidden_size, heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, headDim: c.head_dim }));
    this.addModule('mlp', new FusedGateUpMLP(c.hidden_size, c.intermediate_size));
    this.addModule('input_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('post_attention_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }

  forward(x: Tensor, ctx: DecoderLayerContext): { h: Tensor; kv?: LayerKvUpdate } {
    const attn = childOf<FusedQkvAttention>(this, 'self_attn');
    const normed = callChild(this, 'input_layernorm', x);
    const call = { rope: ctx.rope, causal: true, ...(ctx.cache ? { cache: ctx.cache } : {}), ...(ctx.windowMask ? { windowMask: ctx.windowMask } : {}) };
    const a = x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(normed, call));
    const h = ops.add(x, a.out);
    const out = ops.add(h, callChild(this, 'mlp', callChild(this, 'post_attention_layernorm', h)));
    return a.kv ? { h: out, kv: a.kv } : { h: out };
  }
}

/** The Phi-3 trunk: embed_tokens, layers, norm. */
export class Phi3Model extends Module {
  constructor(c: Phi3Config) {
    super();
    this.addModule('embed_tokens', new Embedding(c.vocab_size, c.hidden_size));
    this.addModule('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new Phi3DecoderLayer(c))));
    this.addModule('norm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }
}

/** transformers' Phi3ForCausalLM (Phi-3, Phi-3.5, Phi-4-mini). */
export class Phi3ForCausalLM extends LanguageModel {
  constructor(readonly config: Phi3Config) {
    super();
    this.addTrunk(new Phi3Model(config), untiedHead(config));
  }

  cacheLayout(): CacheLayout {
    return decoderCacheLayout(this.config);
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    return decoderForward(this, inputs, {
      headDim: c.head_dim,
      rotaryDim: c.head_dim * c.partial_rotary_factor,
      ropeTheta: c.rope_theta,
      ropeScaling: c.rope_scaling,
      layerWindows: Array<number | null>(c.num_hidden_layers).fill(c.sliding_window),
    });
  }
}
