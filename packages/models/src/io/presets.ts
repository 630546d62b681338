import { LowrankError } from '@lowrank/core';
import { buildModel, type LanguageModel } from '../architectures/index.js';
import { parseConfig, type ModelConfig } from '../config/index.js';
import type { F32Tensor } from '../safetensors/index.js';
import { BYTE_VOCAB_SIZE, BYTE_SPECIAL_IDS } from '../tokenizers/byte-tokenizer.js';
import { initWeights } from './init.js';

const specials = { bos_token_id: BYTE_SPECIAL_IDS.bos, eos_token_id: BYTE_SPECIAL_IDS.eos };

/** config.json contents of each preset (byte-level vocabulary, so the byte tokenizer fits). */
const PRESETS: Record<string, Record<string, unknown>> = {
  'llama-tiny': {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: BYTE_VOCAB_SIZE,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    ...specials,
  },
  'gpt2-tiny': {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: BYTE_VOCAB_SIZE,
    n_positions: 256,
    n_embd: 64,
    n_layer: 2,
    n_head: 4,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true,
    ...specials,
  },
  /** LLaMA-shaped benchmark model, ~25M parameters: width 512, 8 layers, 8 heads. */
  'llama-bench': {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: BYTE_VOCAB_SIZE,
    hidden_size: 512,
    intermediate_size: 1376,
    num_hidden_layers: 8,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    max_position_embeddings: 1024,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    ...specials,
  },
  /** Encoder-decoder with cross-attention, for adapters on cross-attention q/k/v. */
  'seq2seq-tiny': {
    architectures: ['LowrankSeq2SeqLM'],
    model_type: 'lowrank-seq2seq',
    vocab_size: BYTE_VOCAB_SIZE,
    hidden_size: 64,
    intermediate_size: 128,
    num_encoder_layers: 1,
    num_decoder_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    tie_word_embeddings: true,
  },
};

export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

export class UnknownPresetError extends LowrankError {
  constructor(readonly preset: string) {
    super(`unknown model preset '${preset}'; presets: ${PRESET_NAMES.join(', ')}. Or pass a model directory.`);
  }
}

export function isPreset(name: string): boolean {
  return Object.hasOwn(PRESETS, name);
}

/** The preset's config, optionally with fields overridden (as transformers' config kwargs). */
export function presetConfig(name: string, overrides: Readonly<Record<string, unknown>> = {}): ModelConfig {
  const raw = PRESETS[name];
  if (!raw) throw new UnknownPresetError(name);
  return parseConfig({ ...raw, ...overrides }, `preset '${name}'`);
}

export interface LoadedModel {
  config: ModelConfig;
  model: LanguageModel;
  weights: Map<string, F32Tensor>;
}

/** A randomly initialised model (seeded), in the same form loadModel returns. */
export function createModel(config: ModelConfig, seed = 0): LoadedModel {
  const model = buildModel(config);
  const std = config.initializer_range;
  const residualStd = config.model_type === 'gpt2' ? std / Math.sqrt(2 * config.n_layer) : undefined;
  const weights = initWeights(model, {
    seed,
    std,
    stdFor: (n) => (residualStd !== undefined && /\.c_proj\.weight$/.test(n) ? residualStd : undefined),
  });
  return { config, model, weights };
}

/** A preset by name, randomly initialised with `seed`. */
export function createPreset(name: string, opts: { seed?: number; overrides?: Readonly<Record<string, unknown>> } = {}): LoadedModel {
  return createModel(presetConfig(name, opts.overrides), opts.seed ?? 0);
}
