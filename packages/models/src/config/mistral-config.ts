import { activation, parseDecoderFields, slidingWindow, type DecoderFields } from './decoder-fields.js';
import type { RawConfig } from './fields.js';

/** Mistral config.json: LLaMA layout; every layer attends within sliding_window tokens when it is set. */
export interface MistralConfig extends DecoderFields {
  architectures: ['MistralForCausalLM'];
  model_type: 'mistral';
  sliding_window: number | null;
  hidden_act: 'silu';
}

export function parseMistralConfig(raw: RawConfig, source = 'config.json'): MistralConfig {
  const base = parseDecoderFields(raw, source, { max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, tie_word_embeddings: false });
  return {
    architectures: ['MistralForCausalLM'],
    model_type: 'mistral',
    ...base,
    sliding_window: slidingWindow(raw, 4096, source),
    hidden_act: activation(raw, 'hidden_act', ['silu'] as const, 'silu', 'Mistral', source),
  };
}
