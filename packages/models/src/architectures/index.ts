import type { ModelConfig } from '../config/index.js';
import type { LanguageModel } from './causal-lm.js';
import { Gemma2ForCausalLM } from './gemma2.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import { MistralForCausalLM } from './mistral.js';
import { Phi3ForCausalLM } from './phi3.js';
import { Qwen2ForCausalLM, Qwen3ForCausalLM } from './qwen.js';
import { LowrankSeq2SeqLM } from './seq2seq.js';

export * from './causal-lm.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, type LlamaShape, type LlamaLayerOptions } from './llama.js';
export { GPT2LMHeadModel, GPT2Model, GPT2Block } from './gpt2.js';
export { LowrankSeq2SeqLM, EncoderLayer, DecoderLayer } from './seq2seq.js';
export { Qwen2ForCausalLM, Qwen3ForCausalLM } from './qwen.js';
export { MistralForCausalLM } from './mistral.js';
export { Gemma2ForCausalLM, Gemma2Model, Gemma2DecoderLayer } from './gemma2.js';
export { Phi3ForCausalLM, Phi3Model, Phi3DecoderLayer } from './phi3.js';
export { decoderForward, embeddingNormalizer, type DecoderLayerContext, type DecoderStackOptions } from './decoder-stack.js';

/** The module tree for a config (parameters named as in its checkpoints). */
export function buildModel(config: ModelConfig): LanguageModel {
  switch (config.model_type) {
    case 'llama':
      return new LlamaForCausalLM(config);
    case 'gpt2':
      return new GPT2LMHeadModel(config);
    case 'lowrank-seq2seq':
      return new LowrankSeq2SeqLM(config);
    case 'qwen2':
      return new Qwen2ForCausalLM(config);
    case 'qwen3':
      return new Qwen3ForCausalLM(config);
    case 'mistral':
      return new MistralForCausalLM(config);
    case 'gemma2':
      return new Gemma2ForCausalLM(config);
    case 'phi3':
      return new Phi3ForCausalLM(config);
  }
}
