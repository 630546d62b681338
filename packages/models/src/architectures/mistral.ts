import type { MistralConfig } from '../config/index.js';
import { LanguageModel, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { decoderForward } from './decoder-stack.js';
import { decoderCacheLayout, LlamaModel, untiedHead } from './llama.js';

/** transformers' MistralForCausalLM: the LLaMA layout, every layer attending within sliding_window tokens. */
export class MistralForCausalLM extends LanguageModel {
  constructor(readonly config: MistralConfig) {
    super();
    this.addTrunk(new LlamaModel(config, { qkvBias: false, outputBias: false, mlpBias: false, qkNorm: false }), untiedHead(config));
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
      layerWindows: Array<number | null>(c.num_hidden_layers).fill(c.sliding_window),
    });
  }
}
