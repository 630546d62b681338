import { ConfigError } from '../errors.js';
import { bool, optNum, type RawConfig } from './fields.js';
import { activation, layerTypes, parseDecoderFields, slidingWindow, type DecoderFields, type LayerType } from './decoder-fields.js';

/**
 * Gemma 2 config.json: (1 + w) RMSNorms around attention and MLP, GeGLU,
 * sqrt(hidden)-scaled embeddings, attention and final logit soft-capping,
 * sliding-window layers alternating with global ones.
 */
export interface Gemma2Config extends DecoderFields {
  architectures: ['Gemma2ForCausalLM'];
  model_type: 'gemma2';
  hidden_activation: 'gelu_pytorch_tanh';
  attention_bias: boolean;
  /** Attention scores are scaled by query_pre_attn_scalar^-0.5 (not head_dim^-0.5). */
  query_pre_attn_scalar: number;
  sliding_window: number | null;
  /** Default: even layers slide (0, 2, ...), odd layers are global. */
  layer_types: LayerType[];
  attn_logit_softcapping: number | null;
  final_logit_softcapping: number | null;
}

function softcap(raw: RawConfig, field: string, fallback: number, source: string): number | null {
  if (raw[field] === null) return null;
  const v = optNum(raw, field, source) ?? fallback;
  if (!(v > 0)) throw new ConfigError(field, `must be a positive number or null, got ${v}`, source);
  return v;
}

export function parseGemma2Config(raw: RawConfig, source = 'config.json'): Gemma2Config {
  const base = parseDecoderFields(raw, source, { max_position_embeddings: 8192, rms_norm_eps: 1e-6, tie_word_embeddings: true, head_dim: 256 });
  // Older Gemma 2 configs carry hidden_act alongside hidden_activation; transformers uses hidden_activation.
  const act = activation(raw, raw.hidden_activation === undefined || raw.hidden_activation === null ? 'hidden_act' : 'hidden_activation', ['gelu_pytorch_tanh'] as const, 'gelu_pytorch_tanh', 'Gemma 2', source);
  const scalar = optNum(raw, 'query_pre_attn_scalar', source) ?? 256;
  if (!(scalar > 0)) throw new ConfigError('query_pre_attn_scalar', `must be positive, got ${scalar}`, source);
  const window = slidingWindow(raw, 4096, source);
  return {
    architectures: ['Gemma2ForCausalLM'],
    model_type: 'gemma2',
    ...base,
    hidden_activation: act,
    attention_bias: bool(raw, 'attention_bias', false, source),
    query_pre_attn_scalar: scalar,
    sliding_window: window,
    layer_types: layerTypes(raw, base.num_hidden_layers, (i) => window !== null && (i + 1) % 2 === 1, source),
    attn_logit_softcapping: softcap(raw, 'attn_logit_softcapping', 50, source),
    final_logit_softcapping: softcap(raw, 'final_logit_softcapping', 30, source),
  };
}
