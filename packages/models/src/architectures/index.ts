import type { ModelConfig } from '../config/index.js';
import type { LanguageModel } from './causal-lm.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import { LowrankSeq2SeqLM } from './seq2seq.js';

export * from './causal-lm.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer } from './llama.js';
export { GPT2LMHeadModel, GPT2Model, GPT2Block } from './gpt2.js';
export { LowrankSeq2SeqLM, EncoderLayer, DecoderLayer } from './seq2seq.js';

/** The module tree for a config (parameters named as in its checkpoints). */
export function buildModel(config: ModelConfig): LanguageModel {
  switch (config.model_type) {
    case 'llama':
      return new LlamaForCausalLM(config);
    case 'gpt2':
      return new GPT2LMHeadModel(config);
    case 'lowrank-seq2seq':
      return new LowrankSeq2SeqLM(config);
  }
}
