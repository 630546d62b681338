import { ConfigError } from '../errors.js';
import { optNum, type RawConfig } from './fields.js';
import { parseRopeScaling } from './rope-scaling.js';
import { activation, parseDecoderFields, slidingWindow, type DecoderFields } from './decoder-fields.js';

/**
 * Phi-3 config.json (Phi-3, Phi-3.5, Phi-4-mini): fused qkv_proj and
 * gate_up_proj, rotary embedding on the first partial_rotary_factor of each head.
 */
export interface Phi3Config extends DecoderFields {
  architectures: ['Phi3ForCausalLM'];
  model_type: 'phi3';
  hidden_act: 'silu';
  partial_rotary_factor: number;
  original_max_position_embeddings: number;
  sliding_window: number | null;
}

export function parsePhi3Config(raw: RawConfig, source = 'config.json'): Phi3Config {
  // rope_scaling is parsed below, once the rotary width is known (longrope lists one factor per rotary frequency).
  const base = parseDecoderFields({ ...raw, rope_scaling: null }, source, { max_position_embeddings: 4096, rms_norm_eps: 1e-5, tie_word_embeddings: false });
  const factor = optNum(raw, 'partial_rotary_factor', source) ?? 1;
  const rotary = base.head_dim * factor;
  if (!(factor > 0 && factor <= 1) || !Number.isInteger(rotary) || rotary % 2 !== 0) {
    throw new ConfigError('partial_rotary_factor', `(${factor}) times head_dim (${base.head_dim}) must be an even number of dimensions in (0, head_dim]`, source);
  }
  const originalMax = optNum(raw, 'original_max_position_embeddings', source) ?? 4096;
  if (!(originalMax >= 1)) throw new ConfigError('original_max_position_embeddings', `must be a positive number, got ${originalMax}`, source);
  return {
    architectures: ['Phi3ForCausalLM'],
    model_type: 'phi3',
    ...base,
    rope_scaling: parseRopeScaling(raw.rope_scaling, source, { maxPositions: base.max_position_embeddings, originalMaxPositions: originalMax, rotaryDim: rotary }),
    hidden_act: activation(raw, 'hidden_act', ['silu'] as const, 'silu', 'Phi-3', source),
    partial_rotary_factor: factor,
    original_max_position_embeddings: originalMax,
    sliding_window: slidingWindow(raw, null, source),
  };
}
