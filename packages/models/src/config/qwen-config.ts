import { bool, optNum, type RawConfig } from './fields.js';
import { activation, layerTypes, parseDecoderFields, slidingWindow, type DecoderFields, type LayerType } from './decoder-fields.js';

/** Sliding-window fields of Qwen2 / Qwen3 (transformers' names). */
interface QwenWindowFields {
  use_sliding_window: boolean;
  /** The window when use_sliding_window (transformers keeps sliding_window = null otherwise). */
  sliding_window: number | null;
  max_window_layers: number;
  /** Per layer: layers from max_window_layers on slide when use_sliding_window. */
  layer_types: LayerType[];
  hidden_act: 'silu';
}

/** Qwen2 / Qwen2.5 config.json: LLaMA layout with a bias on q, k and v (not o). */
export interface Qwen2Config extends DecoderFields, QwenWindowFields {
  architectures: ['Qwen2ForCausalLM'];
  model_type: 'qwen2';
}

/** Qwen3 config.json: per-head q_norm / k_norm, explicit head_dim, attention_bias (default false). */
export interface Qwen3Config extends DecoderFields, QwenWindowFields {
  architectures: ['Qwen3ForCausalLM'];
  model_type: 'qwen3';
  attention_bias: boolean;
}

function windowFields(raw: RawConfig, base: DecoderFields, source: string): QwenWindowFields {
  const use = bool(raw, 'use_sliding_window', false, source);
  const window = use ? slidingWindow(raw, 4096, source) : null;
  const maxWindowLayers = optNum(raw, 'max_window_layers', source) ?? 28;
  return {
    use_sliding_window: use,
    sliding_window: window,
    max_window_layers: maxWindowLayers,
    layer_types: layerTypes(raw, base.num_hidden_layers, (i) => window !== null && i >= maxWindowLayers, source),
    hidden_act: activation(raw, 'hidden_act', ['silu'] as const, 'silu', 'Qwen', source),
  };
}

export function parseQwen2Config(raw: RawConfig, source = 'config.json'): Qwen2Config {
  const base = parseDecoderFields(raw, source, { max_position_embeddings: 32768, rms_norm_eps: 1e-6, tie_word_embeddings: false });
  return { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', ...base, ...windowFields(raw, base, source) };
}

export function parseQwen3Config(raw: RawConfig, source = 'config.json'): Qwen3Config {
  const base = parseDecoderFields(raw, source, { max_position_embeddings: 32768, rms_norm_eps: 1e-6, tie_word_embeddings: false, head_dim: 128 });
  return {
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    ...base,
    ...windowFields(raw, base, source),
    attention_bias: bool(raw, 'attention_bias', false, source),
  };
}
