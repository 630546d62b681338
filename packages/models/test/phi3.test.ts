// Phi3ForCausalLM: fused qkv_proj and gate_up_proj (LoRA adapts the fused weight, as PEFT does),
// grouped kv heads inside the fused projection, partial rotary embedding, sliding window.
import { expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';
import { checkLogits, decoderTensors, describeFamily, inEveryLayer, referenceLogits, relErr, writeCheckpoint, type FamilyCase, type FamilySpec } from './family-support.js';

const [V, H, I, L, NH, KV] = [52, 16, 20, 2, 4, 2];
const D = H / NH;
const QKV = (NH + 2 * KV) * D;

/** A Phi-4-mini-style config.json, shrunk (partial_rotary_factor 0.5, kv heads 2, window 5). */
const config = {
  architectures: ['Phi3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 1,
  embd_pdrop: 0.0,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: H,
  initializer_range: 0.02,
  intermediate_size: I,
  max_position_embeddings: 128,
  model_type: 'phi3',
  num_attention_heads: NH,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  original_max_position_embeddings: 128,
  pad_token_id: 0,
  partial_rotary_factor: 0.5,
  resid_pdrop: 0.0,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 5,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0',
  use_cache: true,
  vocab_size: V,
};

const dims = { vocab: V, hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, headDim: D };
const layer = {
  'input_layernorm.weight': [H],
  'post_attention_layernorm.weight': [H],
  'self_attn.qkv_proj.weight': [QKV, H],
  'self_attn.o_proj.weight': [H, NH * D],
  'mlp.gate_up_proj.weight': [2 * I, H],
  'mlp.down_proj.weight': [H, I],
};
const phi3: FamilyCase = { family: 'phi3', config, tensors: decoderTensors(dims, layer, { tied: false }) };

const spec: FamilySpec = {
  features: {
    title: 'partial rotary and the window move the reference logits',
    changes: [{ config: { partial_rotary_factor: 1 } }, { config: { sliding_window: null } }],
  },
  lora: { what: 'the fused modules (all-linear)', targets: 'all-linear', tensors: L * 4 * 2 },
  peft: {
    titleSuffix: ': one A/B pair per fused module',
    targets: ['qkv_proj', 'gate_up_proj'],
    modules: inEveryLayer(L, ['self_attn.qkv_proj', 'mlp.gate_up_proj']),
    keyChecks: (expected) => {
      expect(expected.get('base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight')).toEqual([2, H]);
      expect(expected.get('base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight')).toEqual([QKV, 2]);
    },
  },
};

describeFamily(phi3, spec, () => {
  it('LongRoPE (Phi-3.5 / Phi-4-mini rope_scaling): short factors within the original context, long ones past it, both within 1e-6', async () => {
    const longrope = { type: 'longrope', short_factor: [1.0, 1.3], long_factor: [2.5, 7.0] };
    const short = { ...config, partial_rotary_factor: 1, max_position_embeddings: 512, original_max_position_embeddings: 128, rope_scaling: longrope };
    // Seven tokens past an original context of 4: the long factors apply to the whole forward.
    const long = { ...short, max_position_embeddings: 64, original_max_position_embeddings: 4 };
    const { weights } = await writeCheckpoint(phi3);
    const plain = referenceLogits(phi3, weights, { ...short, rope_scaling: null });
    for (const [label, c] of [['short', short], ['long', long]] as const) {
      const { refErr, cpuErr } = await checkLogits({ ...phi3, config: c });
      console.log(`phi3 longrope (${label} factors) logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
      expect(refErr).toBeLessThan(1e-6);
      expect(cpuErr).toBeLessThan(1e-6);
      expect(relErr(referenceLogits(phi3, weights, c), plain)).toBeGreaterThan(1e-3);
    }
    expect(relErr(referenceLogits(phi3, weights, long), referenceLogits(phi3, weights, { ...long, rope_scaling: { ...longrope, long_factor: longrope.short_factor } }))).toBeGreaterThan(1e-3);
    expect(() => parseConfig({ ...short, rope_scaling: { ...longrope, long_factor: [1] } })).toThrow(/rope_scaling.long_factor/);
  });
});
