import { ConfigError } from '../errors.js';
import { bool, num, numOrList, optNum, type RawConfig } from './fields.js';

/** GPT-2's config.json fields, with transformers' names and defaults. */
export interface GPT2Config {
  architectures: ['GPT2LMHeadModel'];
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** MLP width; null means 4 · n_embd. */
  n_inner: number | null;
  activation_function: 'gelu_new' | 'gelu' | 'gelu_pytorch_tanh' | 'relu';
  layer_norm_epsilon: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  tie_word_embeddings: boolean;
  initializer_range: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
}

const ACTIVATIONS = ['gelu_new', 'gelu', 'gelu_pytorch_tanh', 'relu'] as const;

export function parseGPT2Config(raw: RawConfig, source = 'config.json'): GPT2Config {
  const act = raw.activation_function ?? 'gelu_new';
  if (!ACTIVATIONS.includes(act as GPT2Config['activation_function'])) {
    throw new ConfigError('activation_function', `is ${JSON.stringify(act)}; supported: ${ACTIVATIONS.join(', ')}`, source);
  }
  if (raw.reorder_and_upcast_attn === true) throw new ConfigError('reorder_and_upcast_attn', 'true is not implemented', source);
  const nEmbd = num(raw, 'n_embd', source);
  const nHead = num(raw, 'n_head', source);
  if (nEmbd % nHead !== 0) throw new ConfigError('n_head', `(${nHead}) must divide n_embd (${nEmbd})`, source);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: num(raw, 'vocab_size', source),
    n_positions: optNum(raw, 'n_positions', source) ?? 1024,
    n_embd: nEmbd,
    n_layer: num(raw, 'n_layer', source),
    n_head: nHead,
    n_inner: optNum(raw, 'n_inner', source) ?? null,
    activation_function: act as GPT2Config['activation_function'],
    layer_norm_epsilon: optNum(raw, 'layer_norm_epsilon', source) ?? 1e-5,
    scale_attn_weights: bool(raw, 'scale_attn_weights', true, source),
    scale_attn_by_inverse_layer_idx: bool(raw, 'scale_attn_by_inverse_layer_idx', false, source),
    tie_word_embeddings: bool(raw, 'tie_word_embeddings', true, source),
    initializer_range: optNum(raw, 'initializer_range', source) ?? 0.02,
    bos_token_id: optNum(raw, 'bos_token_id', source) ?? 50256,
    eos_token_id: numOrList(raw, 'eos_token_id', source) ?? 50256,
  };
}
