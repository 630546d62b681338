import { ConfigError } from '../errors.js';
import { bool, num, optNum, type RawConfig } from './fields.js';

/**
 * lowrank's own small encoder-decoder (LLaMA-style blocks; each decoder block
 * adds cross-attention over the encoder output). It exists so adapters can
 * target cross-attention q/k/v projections; transformers has no class for it.
 */
export interface Seq2SeqConfig {
  architectures: ['LowrankSeq2SeqLM'];
  model_type: 'lowrank-seq2seq';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_encoder_layers: number;
  num_decoder_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
}

export function parseSeq2SeqConfig(raw: RawConfig, source = 'config.json'): Seq2SeqConfig {
  const hidden = num(raw, 'hidden_size', source);
  const heads = num(raw, 'num_attention_heads', source);
  const kvHeads = optNum(raw, 'num_key_value_heads', source) ?? heads;
  if (heads % kvHeads !== 0) throw new ConfigError('num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads})`, source);
  return {
    architectures: ['LowrankSeq2SeqLM'],
    model_type: 'lowrank-seq2seq',
    vocab_size: num(raw, 'vocab_size', source),
    hidden_size: hidden,
    intermediate_size: num(raw, 'intermediate_size', source),
    num_encoder_layers: num(raw, 'num_encoder_layers', source),
    num_decoder_layers: num(raw, 'num_decoder_layers', source),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: optNum(raw, 'head_dim', source) ?? hidden / heads,
    rms_norm_eps: optNum(raw, 'rms_norm_eps', source) ?? 1e-6,
    rope_theta: optNum(raw, 'rope_theta', source) ?? 10000,
    max_position_embeddings: optNum(raw, 'max_position_embeddings', source) ?? 512,
    tie_word_embeddings: bool(raw, 'tie_word_embeddings', true, source),
    initializer_range: optNum(raw, 'initializer_range', source) ?? 0.02,
  };
}
