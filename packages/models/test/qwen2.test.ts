// Qwen2ForCausalLM (Qwen2, Qwen2.5): q/k/v biases, tied embeddings, sliding-window fields.
import type { HostTensor } from '@lowrank/core';
import { expect } from 'vitest';
import { parseConfig } from '../src/index.js';
import { decoderTensors, describeFamily, inEveryLayer, llamaLayerTensors, type FamilyCase, type FamilySpec } from './family-support.js';

const [V, H, I, L, NH, KV] = [48, 16, 24, 2, 4, 2];
const D = H / NH;

/** A Qwen2.5-0.5B-style config.json, shrunk: tied embeddings, sliding window on from layer 1 (window 3 < 7 tokens). */
const config = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: H,
  initializer_range: 0.02,
  intermediate_size: I,
  max_position_embeddings: 64,
  max_window_layers: 1,
  model_type: 'qwen2',
  num_attention_heads: NH,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  rms_norm_eps: 1e-6,
  rope_theta: 1000.0,
  sliding_window: 3,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: true,
  vocab_size: V,
};

const dims = { vocab: V, hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, headDim: D };
const layer = {
  ...llamaLayerTensors(dims),
  'self_attn.q_proj.bias': [NH * D],
  'self_attn.k_proj.bias': [KV * D],
  'self_attn.v_proj.bias': [KV * D],
};
const qwen2: FamilyCase = { family: 'qwen2', config, tensors: decoderTensors(dims, layer, { tied: true }) };

const withoutBiases = (weights: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> => {
  const noBias = new Map(weights);
  for (const [k, t] of noBias) if (k.endsWith('.bias')) noBias.set(k, { ...t, data: new Float32Array(t.data.length) });
  return noBias;
};

const spec: FamilySpec = {
  modelChecks: (model) => {
    expect(model.namedParams().has('lm_head.weight')).toBe(false);
    expect(model.namedParams().has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
  },
  features: {
    title: 'the test exercises the window and the biases: the reference moves without them',
    changes: [{ config: { use_sliding_window: false } }, { weights: withoutBiases, label: 'q/k/v biases zeroed' }],
    also: () => {
      // Without use_sliding_window, transformers keeps sliding_window null: no layer slides.
      expect((parseConfig({ ...config, use_sliding_window: false }) as { layer_types: string[] }).layer_types).toEqual(['full_attention', 'full_attention']);
      expect((parseConfig(config) as { layer_types: string[] }).layer_types).toEqual(['full_attention', 'sliding_attention']);
    },
  },
  lora: { what: 'all-linear', targets: 'all-linear', tensors: L * 7 * 2 },
  peft: { targets: ['q_proj', 'k_proj', 'v_proj'], modules: inEveryLayer(L, ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']) },
};

describeFamily(qwen2, spec);
