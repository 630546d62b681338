import { ConfigError } from '../errors.js';
import { bool, num, numOrList, optNum, type RawConfig } from './fields.js';
import { parseRopeScaling, type RopeScaling } from './rope-scaling.js';

/** LLaMA's config.json fields, with transformers' names and defaults. */
export interface LlamaConfig {
  architectures: ['LlamaForCausalLM'];
  model_type: 'llama';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Grouped-query attention: key/value heads shared by num_attention_heads / num_key_value_heads query heads. */
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  /** null, or linear / llama3 frequency scaling. */
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  attention_bias: boolean;
  mlp_bias: boolean;
  hidden_act: 'silu';
  initializer_range: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
}

export function parseLlamaConfig(raw: RawConfig, source = 'config.json'): LlamaConfig {
  const hidden = num(raw, 'hidden_size', source);
  const heads = num(raw, 'num_attention_heads', source);
  const kvHeads = optNum(raw, 'num_key_value_heads', source) ?? heads;
  if (heads % kvHeads !== 0) throw new ConfigError('num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads})`, source);
  const headDim = optNum(raw, 'head_dim', source) ?? hidden / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ConfigError('head_dim', `must be an even integer, got ${headDim}`, source);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ConfigError('hidden_act', `is '${String(act)}'; LLaMA here supports 'silu' only`, source);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: num(raw, 'vocab_size', source),
    hidden_size: hidden,
    intermediate_size: num(raw, 'intermediate_size', source),
    num_hidden_layers: num(raw, 'num_hidden_layers', source),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: optNum(raw, 'max_position_embeddings', source) ?? 2048,
    rms_norm_eps: optNum(raw, 'rms_norm_eps', source) ?? 1e-6,
    rope_theta: optNum(raw, 'rope_theta', source) ?? 10000,
    rope_scaling: parseRopeScaling(raw.rope_scaling, source),
    tie_word_embeddings: bool(raw, 'tie_word_embeddings', false, source),
    attention_bias: bool(raw, 'attention_bias', false, source),
    mlp_bias: bool(raw, 'mlp_bias', false, source),
    hidden_act: 'silu',
    initializer_range: optNum(raw, 'initializer_range', source) ?? 0.02,
    bos_token_id: optNum(raw, 'bos_token_id', source) ?? null,
    eos_token_id: numOrList(raw, 'eos_token_id', source),
    pad_token_id: optNum(raw, 'pad_token_id', source) ?? null,
  };
}
