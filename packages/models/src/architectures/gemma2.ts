import { Embedding, Module, ops, type Tensor } from '@lowrank/core';
import type { Gemma2Config } from '../config/index.js';
import { callChild, childOf } from '../nn/call.js';
import type { LayerKvUpdate } from '../nn/kv-cache.js';
import { LlamaAttention } from '../nn/llama-attention.js';
import { SwiGLUMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { OffsetRMSNorm } from '../nn/offset-rms-norm.js';
import { LanguageModel, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { decoderForward, type DecoderLayerContext } from './decoder-stack.js';
import { decoderCacheLayout, untiedHead, windowsOf } from './llama.js';

/**
 * One Gemma 2 block: each sublayer is normed on the way in and on the way out
 * before its residual add (input_layernorm / post_attention_layernorm around
 * attention, pre_ / post_feedforward_layernorm around the GeGLU MLP).
 */
export class Gemma2DecoderLayer extends Module {
  constructor(c: Gemma2Config) {
    super();
    this.addModule(
      'self_attn',
      new LlamaAttention({
        hidden: c.hidden_size,
        heads: c.num_attention_heads,
        kvHeads: c.num_key_value_heads,
        headDim: c.head_dim,
        bias: c.attention_bias,
        scale: c.query_pre_attn_scalar ** -0.5,
        softcap: c.attn_logit_softcapping,
      }),
    );
    this.addModule('mlp', new SwiGLUMLP(c.hidden_size, c.intermediate_size, false, c.hidden_activation));
    for (const norm of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']) {
      this.addModule(norm, new OffsetRMSNorm(c.hidden_size, c.rms_norm_eps));
    }
  }

  forward(x: Tensor, ctx: DecoderLayerContext): { h: Tensor; kv?: LayerKvUpdate } {
    const attn = childOf<LlamaAttention>(this, 'self_attn');
    const normed = callChild(this, 'input_layernorm', x);
    const call = { rope: ctx.rope, causal: true, ...(ctx.cache ? { cache: ctx.cache } : {}), ...(ctx.windowMask ? { windowMask: ctx.windowMask } : {}) };
    const a = x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(normed, call));
    const h = ops.add(x, callChild(this, 'post_attention_layernorm', a.out));
    const m = callChild(this, 'mlp', callChild(this, 'pre_feedforward_layernorm', h));
    const out = ops.add(h, callChild(this, 'post_feedforward_layernorm', m));
    return a.kv ? { h: out, kv: a.kv } : { h: out };
  }
}

/** The Gemma 2 trunk: embed_tokens, layers, norm (a (1 + w) RMSNorm). */
export class Gemma2Model extends Module {
  constructor(c: Gemma2Config) {
    super();
    this.addModule('embed_tokens', new Embedding(c.vocab_size, c.hidden_size));
    this.addModule('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new Gemma2DecoderLayer(c))));
    this.addModule('norm', new OffsetRMSNorm(c.hidden_size, c.rms_norm_eps));
  }
}

/** transformers' Gemma2ForCausalLM. */
export class Gemma2ForCausalLM extends LanguageModel {
  constructor(readonly config: Gemma2Config) {
    super();
    this.addTrunk(new Gemma2Model(config), untiedHead(config));
  }

  override get finalLogitSoftcap(): number | null {
    return this.config.final_logit_softcapping;
  }

  cacheLayout(): CacheLayout {
    return decoderCacheLayout(this.config);
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    return decoderForward(this, inputs, {
      headDim: c.head_dim,
      ropeTheta: c.rope_theta,
      ropeScaling: c.rope_scaling,
      layerWindows: windowsOf(c.layer_types, c.sliding_window),
      scaleEmbeddings: true,
      finalSoftcap: c.final_logit_softcapping,
    });
  }
}
