// MistralForCausalLM: the LLaMA layout with sliding_window honoured once the sequence exceeds it.
import { expect } from 'vitest';
import { buildModel, parseConfig } from '../src/index.js';
import { decoderTensors, describeFamily, inEveryLayer, llamaLayerTensors, referenceLogits, relErr, SEQ, type FamilyCase, type FamilySpec } from './family-support.js';

const [V, H, I, L, NH, KV] = [44, 16, 24, 2, 4, 2];
const D = H / NH;

/** A Mistral-7B-v0.1-style config.json, shrunk: window 4 over 7-token sequences. */
const config = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: H,
  initializer_range: 0.02,
  intermediate_size: I,
  max_position_embeddings: 256,
  model_type: 'mistral',
  num_attention_heads: NH,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: V,
};

const dims = { vocab: V, hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, headDim: D };
const mistral: FamilyCase = { family: 'mistral', config, tensors: decoderTensors(dims, llamaLayerTensors(dims), { tied: false }) };

const spec: FamilySpec = {
  features: {
    title: 'the window matters only past it: the reference moves with sliding_window null, not with a window of the sequence length',
    changes: [{ config: { sliding_window: null } }],
    also: (weights) => {
      const wide = { ...config, sliding_window: SEQ };
      const model = buildModel(parseConfig(wide));
      expect(relErr(referenceLogits(mistral, weights, wide), referenceLogits(mistral, weights, { ...config, sliding_window: null }))).toBe(0);
      expect(model.cacheLayout().maxPositions).toBe(256);
    },
  },
  lora: { what: 'all-linear', targets: 'all-linear', tensors: L * 7 * 2 },
  peft: { targets: ['q_proj', 'v_proj'], modules: inEveryLayer(L, ['self_attn.q_proj', 'self_attn.v_proj']) },
};

describeFamily(mistral, spec);
