// Gemma2ForCausalLM: (1 + w) RMSNorms, GeGLU, sqrt(hidden)-scaled embeddings, query_pre_attn_scalar,
// attention and final logit soft-capping, sliding (even) and global (odd) layers, tied embeddings.
import { expect, it } from 'vitest';
import { embeddingNormalizer, parseConfig } from '../src/index.js';
import { decoderTensors, describeFamily, inEveryLayer, llamaLayerTensors, type FamilyCase, type FamilySpec } from './family-support.js';

const [V, H, I, L, NH, KV, D] = [36, 16, 24, 2, 4, 2, 6];

/** A gemma-2-2b-style config.json, shrunk; small caps and window so each feature changes the logits. */
const config = {
  architectures: ['Gemma2ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  attn_logit_softcapping: 1.5,
  bos_token_id: 2,
  cache_implementation: 'hybrid',
  eos_token_id: 1,
  final_logit_softcapping: 2.0,
  head_dim: D,
  hidden_act: 'gelu_pytorch_tanh',
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: H,
  initializer_range: 0.02,
  intermediate_size: I,
  max_position_embeddings: 64,
  model_type: 'gemma2',
  num_attention_heads: NH,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  pad_token_id: 0,
  query_pre_attn_scalar: 5,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  sliding_window: 3,
  torch_dtype: 'float32',
  transformers_version: '4.42.4',
  use_cache: true,
  vocab_size: V,
};

const dims = { vocab: V, hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, headDim: D };
const layer = { ...llamaLayerTensors(dims), 'pre_feedforward_layernorm.weight': [H], 'post_feedforward_layernorm.weight': [H] };
const gemma2: FamilyCase = { family: 'gemma2', config, tensors: decoderTensors(dims, layer, { tied: true }) };

const spec: FamilySpec = {
  modelChecks: (model) => {
    expect(model.namedParams().has('lm_head.weight')).toBe(false);
    expect(model.finalLogitSoftcap).toBe(2);
  },
  features: {
    title: 'every Gemma feature under test moves the reference logits',
    changes: [
      { config: { attn_logit_softcapping: null } },
      { config: { final_logit_softcapping: null } },
      { config: { sliding_window: null } },
      { config: { query_pre_attn_scalar: D } },
      { config: { layer_types: ['full_attention', 'sliding_attention'] } },
    ],
    also: () => {
      expect((parseConfig(config) as { layer_types: string[] }).layer_types).toEqual(['sliding_attention', 'full_attention']);
    },
  },
  lora: { what: 'all-linear', targets: 'all-linear', tensors: L * 7 * 2 },
  peft: { targets: ['gate_proj', 'up_proj', 'down_proj'], modules: inEveryLayer(L, ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) },
};

describeFamily(gemma2, spec, () => {
  it("the embedding normalizer is sqrt(hidden) rounded to the checkpoint's dtype, as transformers casts it", () => {
    expect(embeddingNormalizer(3584, 'bf16')).toBe(59.75);
    expect(embeddingNormalizer(2304, 'bf16')).toBe(48);
    expect(embeddingNormalizer(24, 'f32')).toBe(Math.fround(Math.sqrt(24)));
    // bf16 keeps 8 significant bits: sqrt(24) = 4.89898 -> 4.90625.
    expect(embeddingNormalizer(24, 'bf16')).toBe(4.90625);
  });
});
