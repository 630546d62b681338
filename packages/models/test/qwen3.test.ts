// Qwen3ForCausalLM: q_norm / k_norm per head before RoPE, head_dim decoupled from hidden / heads, no qkv bias.
import type { HostTensor } from '@lowrank/core';
import { decoderTensors, describeFamily, llamaLayerTensors, type FamilyCase, type FamilySpec } from './family-support.js';

const [V, H, I, L, NH, KV, D] = [40, 16, 24, 2, 4, 2, 6];

/** A Qwen3-0.6B-style config.json, shrunk (head_dim 6 while hidden / heads is 4). */
const config = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 3,
  eos_token_id: 4,
  head_dim: D,
  hidden_act: 'silu',
  hidden_size: H,
  initializer_range: 0.02,
  intermediate_size: I,
  max_position_embeddings: 128,
  max_window_layers: 2,
  model_type: 'qwen3',
  num_attention_heads: NH,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: V,
};

const dims = { vocab: V, hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, headDim: D };
const layer = { ...llamaLayerTensors(dims), 'self_attn.q_norm.weight': [D], 'self_attn.k_norm.weight': [D] };
const qwen3: FamilyCase = { family: 'qwen3', config, tensors: decoderTensors(dims, layer, { tied: false }) };

const qkNormsAtOne = (weights: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> => {
  const flat = new Map(weights);
  for (const [k, t] of flat) if (/[qk]_norm/.test(k)) flat.set(k, { ...t, data: new Float32Array(D).fill(1) });
  return flat;
};

const spec: FamilySpec = {
  features: {
    title: 'the test exercises q_norm / k_norm: the reference moves when they are set to one',
    changes: [{ weights: qkNormsAtOne, label: 'q_norm / k_norm set to one' }],
  },
  lora: { what: 'q,k,v,o,gate,up,down', targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], tensors: L * 7 * 2 },
  peft: {
    titleSuffix: " (a regex target, PEFT's full match)",
    targets: 'model\\.layers\\.1\\.self_attn\\.(q|o)_.*',
    // Full match on the module path: only layer 1's q_proj and o_proj (q_norm is not a Linear; o_proj of layer 0 is outside).
    modules: ['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.o_proj'],
  },
};

describeFamily(qwen3, spec);
