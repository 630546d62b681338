import { Embedding, Linear, Module, ops, RMSNorm, type Tensor } from '@lowrank/core';
import type { DecoderFields, LlamaConfig } from '../config/index.js';
import { callChild, childOf } from '../nn/call.js';
import type { LayerKvUpdate } from '../nn/kv-cache.js';
import { LlamaAttention } from '../nn/llama-attention.js';
import { SwiGLUMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { LanguageModel, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { decoderForward, type DecoderLayerContext } from './decoder-stack.js';

/** The sizes of a LLaMA-like decoder, under transformers' config names. */
export type LlamaShape = Pick<DecoderFields, 'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads' | 'head_dim' | 'rms_norm_eps'>;

/** Where a LLaMA-layout family departs from LLaMA inside a block. */
export interface LlamaLayerOptions {
  /** Bias on q_proj, k_proj, v_proj (LLaMA: attention_bias; Qwen2: always). */
  qkvBias: boolean;
  /** Bias on o_proj (LLaMA: attention_bias; Qwen2: never). */
  outputBias: boolean;
  mlpBias: boolean;
  /** Qwen3's q_norm / k_norm. */
  qkNorm: boolean;
}

/** One pre-norm LLaMA block: x + attn(norm(x)), then + mlp(norm(·)). */
export class LlamaDecoderLayer extends Module {
  constructor(c: LlamaShape, o: LlamaLayerOptions) {
    super();
    this.addModule(
      'self_attn',
      new LlamaAttention({
        hidden: c.hidden_size,
        heads: c.num_attention_heads,
        kvHeads: c.num_key_value_heads,
        headDim: c.head_dim,
        bias: o.qkvBias,
        outputBias: o.outputBias,
        ...(o.qkNorm ? { qkNormEps: c.rms_norm_eps } : {}),
      }),
    );
    this.addModule('mlp', new SwiGLUMLP(c.hidden_size, c.intermediate_size, o.mlpBias));
    this.addModule('input_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('post_attention_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }

  forward(x: Tensor, ctx: DecoderLayerContext): { h: Tensor; kv?: LayerKvUpdate } {
    const attn = childOf<LlamaAttention>(this, 'self_attn');
    const normed = callChild(this, 'input_layernorm', x);
    const call = { rope: ctx.rope, causal: true, ...(ctx.cache ? { cache: ctx.cache } : {}), ...(ctx.windowMask ? { windowMask: ctx.windowMask } : {}) };
    const a = x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(normed, call));
    const h = ops.add(x, a.out);
    const out = ops.add(h, callChild(this, 'mlp', callChild(this, 'post_attention_layernorm', h)));
    return a.kv ? { h: out, kv: a.kv } : { h: out };
  }
}

/** The LLaMA trunk: embed_tokens, layers, norm. */
export class LlamaModel extends Module {
  constructor(c: LlamaShape, o: LlamaLayerOptions) {
    super();
    this.addModule('embed_tokens', new Embedding(c.vocab_size, c.hidden_size));
    this.addModule('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new LlamaDecoderLayer(c, o))));
    this.addModule('norm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }
}

/** Cache shape of a LLaMA-like decoder. */
export function decoderCacheLayout(c: LlamaShape & { max_position_embeddings: number }): CacheLayout {
  return { layers: c.num_hidden_layers, kvHeads: c.num_key_value_heads, headDim: c.head_dim, maxPositions: c.max_position_embeddings };
}

/** The output layer of an untied decoder (transformers' lm_head), else undefined (logits from the embedding table). */
export function untiedHead(c: Pick<DecoderFields, 'hidden_size' | 'vocab_size' | 'tie_word_embeddings'>): Linear | undefined {
  return c.tie_word_embeddings ? undefined : new Linear(c.hidden_size, c.vocab_size, { bias: false });
}

/** Sliding window per layer from transformers' layer_types. */
export function windowsOf(layerTypes: readonly string[], window: number | null): (number | null)[] {
  return layerTypes.map((t) => (t === 'sliding_attention' ? window : null));
}

/** transformers' LlamaForCausalLM: parameter names match its checkpoints. */
export class LlamaForCausalLM extends LanguageModel {
  constructor(readonly config: LlamaConfig) {
    super();
    this.addTrunk(new LlamaModel(config, { qkvBias: config.attention_bias, outputBias: config.attention_bias, mlpBias: config.mlp_bias, qkNorm: false }), untiedHead(config));
  }

  cacheLayout(): CacheLayout {
    return decoderCacheLayout(this.config);
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    return decoderForward(this, inputs, { headDim: c.head_dim, ropeTheta: c.rope_theta, ropeScaling: c.rope_scaling, layerWindows: Array<null>(c.num_hidden_layers).fill(null) });
  }
}
