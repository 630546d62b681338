import type { Qwen2Config, Qwen3Config } from '../config/index.js';
import { LanguageModel, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { decoderForward } from './decoder-stack.js';
import { decoderCacheLayout, LlamaModel, untiedHead, windowsOf } from './llama.js';

/** transformers' Qwen2ForCausalLM (Qwen2, Qwen2.5): LLaMA with biases on q_proj, k_proj, v_proj. */
export class Qwen2ForCausalLM extends LanguageModel {
  constructor(readonly config: Qwen2Config) {
    super();
    this.addTrunk(new LlamaModel(config, { qkvBias: true, outputBias: false, mlpBias: false, qkNorm: false }), untiedHead(config));
  }

  cacheLayout(): CacheLayout {
    return decoderCacheLayout(this.config);
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    return decoderForward(this, inputs, { headDim: c.head_dim, ropeTheta: c.rope_theta, ropeScaling: c.rope_scaling, layerWindows: windowsOf(c.layer_types, c.sliding_window) });
  }
}

/** transformers' Qwen3ForCausalLM: LLaMA with RMSNorm on each query and key head (q_norm, k_norm) before RoPE. */
export class Qwen3ForCausalLM extends LanguageModel {
  constructor(readonly config: Qwen3Config) {
    super();
    const bias = config.attention_bias;
    this.addTrunk(new LlamaModel(config, { qkvBias: bias, outputBias: bias, mlpBias: false, qkNorm: true }), untiedHead(config));
  }

  cacheLayout(): CacheLayout {
    return decoderCacheLayout(this.config);
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    return decoderForward(this, inputs, { headDim: c.head_dim, ropeTheta: c.rope_theta, ropeScaling: c.rope_scaling, layerWindows: windowsOf(c.layer_types, c.sliding_window) });
  }
}
