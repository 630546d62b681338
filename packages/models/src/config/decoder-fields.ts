import { ConfigError } from '../errors.js';
import { bool, num, numOrList, optNum, type RawConfig } from './fields.js';
import { parseRopeScaling, type RopeScaling } from './rope-scaling.js';

/**
 * The config.json fields every LLaMA-like decoder shares (Qwen2, Qwen3,
 * Mistral, Gemma 2, Phi-3), under transformers' names. Each family's parser
 * passes its own transformers defaults.
 */
export interface DecoderFields {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  initializer_range: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
}

export interface DecoderDefaults {
  max_position_embeddings: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  /** Default head_dim when the field is absent (null: hidden_size / num_attention_heads). */
  head_dim?: number | null;
}

export function parseDecoderFields(raw: RawConfig, source: string, d: DecoderDefaults): DecoderFields {
  const hidden = num(raw, 'hidden_size', source);
  const heads = num(raw, 'num_attention_heads', source);
  const kvHeads = optNum(raw, 'num_key_value_heads', source) ?? heads;
  if (heads % kvHeads !== 0) throw new ConfigError('num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads})`, source);
  const headDim = optNum(raw, 'head_dim', source) ?? d.head_dim ?? hidden / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ConfigError('head_dim', `must be an even integer, got ${headDim}`, source);
  return {
    vocab_size: num(raw, 'vocab_size', source),
    hidden_size: hidden,
    intermediate_size: num(raw, 'intermediate_size', source),
    num_hidden_layers: num(raw, 'num_hidden_layers', source),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: optNum(raw, 'max_position_embeddings', source) ?? d.max_position_embeddings,
    rms_norm_eps: optNum(raw, 'rms_norm_eps', source) ?? d.rms_norm_eps,
    rope_theta: optNum(raw, 'rope_theta', source) ?? 10000,
    rope_scaling: parseRopeScaling(raw.rope_scaling, source),
    tie_word_embeddings: bool(raw, 'tie_word_embeddings', d.tie_word_embeddings, source),
    initializer_range: optNum(raw, 'initializer_range', source) ?? 0.02,
    bos_token_id: optNum(raw, 'bos_token_id', source) ?? null,
    eos_token_id: numOrList(raw, 'eos_token_id', source),
    pad_token_id: optNum(raw, 'pad_token_id', source) ?? null,
  };
}

/** The activation field must name one lowrank implements for this family. */
export function activation<A extends string>(raw: RawConfig, field: string, allowed: readonly A[], fallback: A, family: string, source: string): A {
  const v = raw[field] ?? fallback;
  if (!allowed.includes(v as A)) throw new ConfigError(field, `is ${JSON.stringify(v)}; ${family} here supports ${allowed.map((a) => `'${a}'`).join(', ')}`, source);
  return v as A;
}

export type LayerType = 'full_attention' | 'sliding_attention';

/**
 * transformers' `layer_types`: given in config.json, or derived by the family's
 * rule (`sliding(i)`); either way one entry per layer.
 */
export function layerTypes(raw: RawConfig, layers: number, sliding: (i: number) => boolean, source: string): LayerType[] {
  const v = raw.layer_types;
  if (v === undefined || v === null) return Array.from({ length: layers }, (_, i) => (sliding(i) ? 'sliding_attention' : 'full_attention'));
  if (!Array.isArray(v) || v.length !== layers || !v.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
    throw new ConfigError('layer_types', `must list 'full_attention' or 'sliding_attention' for each of the ${layers} layers, got ${JSON.stringify(v)}`, source);
  }
  return [...(v as LayerType[])];
}

/** A positive sliding_window, or null. */
export function slidingWindow(raw: RawConfig, fallback: number | null, source: string): number | null {
  const v = raw.sliding_window === undefined ? fallback : raw.sliding_window;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError('sliding_window', `must be a positive integer or null, got ${JSON.stringify(v)}`, source);
  return v;
}
