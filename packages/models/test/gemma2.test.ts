// Gemma2ForCausalLM: (1 + w) RMSNorms, GeGLU, sqrt(hidden)-scaled embeddings, query_pre_attn_scalar,
// attention and final logit soft-capping, sliding (even) and global (odd) layers, tied embeddings.
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, embeddingNormalizer, parseConfig } from '../src/index.js';
import { checkLogits, checkLoraGradient, checkPeftRoundTrip, peftKeys, referenceLogits, relErr, removeTempDirs, writeCheckpoint, type FamilyCase } from './family-support.js';

afterAll(removeTempDirs);

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

function tensors(): Map<string, number[]> {
  const t = new Map<string, number[]>([['model.embed_tokens.weight', [V, H]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    for (const n of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']) t.set(`${p}.${n}.weight`, [H]);
    t.set(`${p}.self_attn.q_proj.weight`, [NH * D, H]);
    t.set(`${p}.self_attn.k_proj.weight`, [KV * D, H]);
    t.set(`${p}.self_attn.v_proj.weight`, [KV * D, H]);
    t.set(`${p}.self_attn.o_proj.weight`, [H, NH * D]);
    t.set(`${p}.mlp.gate_proj.weight`, [I, H]);
    t.set(`${p}.mlp.up_proj.weight`, [I, H]);
    t.set(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  t.set('model.norm.weight', [H]);
  return t;
}

const gemma2: FamilyCase = { family: 'gemma2', config, tensors: tensors() };

describe('Gemma2ForCausalLM against the float64 transformers equations', () => {
  it('logits on the reference evaluator and backend-cpu are within 1e-6 of the float64 forward', async () => {
    const { model, refErr, cpuErr } = await checkLogits(gemma2);
    console.log(`gemma2 logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
    expect(model.namedParams().has('lm_head.weight')).toBe(false);
    expect(model.finalLogitSoftcap).toBe(2);
    expect(refErr).toBeLessThan(1e-6);
    expect(cpuErr).toBeLessThan(1e-6);
  });

  it('every Gemma feature under test moves the reference logits', async () => {
    const { weights } = await writeCheckpoint(gemma2);
    const base = referenceLogits(gemma2, weights);
    for (const change of [
      { attn_logit_softcapping: null },
      { final_logit_softcapping: null },
      { sliding_window: null },
      { query_pre_attn_scalar: D },
      { layer_types: ['full_attention', 'sliding_attention'] },
    ]) {
      expect(relErr(referenceLogits(gemma2, weights, { ...config, ...change }), base), JSON.stringify(change)).toBeGreaterThan(1e-3);
    }
    expect((parseConfig(config) as { layer_types: string[] }).layer_types).toEqual(['sliding_attention', 'full_attention']);
  });

  it('one LoRA step on all-linear: backend-cpu and reference gradients agree with float64 finite differences', async () => {
    const { model, weights } = await checkLogits(gemma2);
    const g = await checkLoraGradient(gemma2, model, weights, 'all-linear');
    console.log(`gemma2 LoRA gradients (${g.tensors} tensors): cpu vs reference ${g.cpuVsReference.toExponential(2)}, reference vs finite differences ${g.referenceVsFiniteDifference.toExponential(2)}`);
    expect(g.tensors).toBe(L * 7 * 2);
    expect(g.cpuVsReference).toBeLessThan(1e-5);
    expect(g.referenceVsFiniteDifference).toBeLessThan(1e-5);
  });

  it("the PEFT adapter round-trips with PEFT's key names", async () => {
    const model = buildModel(parseConfig(config));
    const { weights } = await writeCheckpoint(gemma2);
    const modules = new Map<string, [number, number]>();
    for (let l = 0; l < L; l++) {
      modules.set(`model.layers.${l}.mlp.gate_proj`, [I, H]);
      modules.set(`model.layers.${l}.mlp.up_proj`, [I, H]);
      modules.set(`model.layers.${l}.mlp.down_proj`, [H, I]);
    }
    await checkPeftRoundTrip(model, weights, ['gate_proj', 'up_proj', 'down_proj'], peftKeys(modules, 2));
  });

  it("the embedding normalizer is sqrt(hidden) rounded to the checkpoint's dtype, as transformers casts it", () => {
    expect(embeddingNormalizer(3584, 'bf16')).toBe(59.75);
    expect(embeddingNormalizer(2304, 'bf16')).toBe(48);
    expect(embeddingNormalizer(24, 'f32')).toBe(Math.fround(Math.sqrt(24)));
    // bf16 keeps 8 significant bits: sqrt(24) = 4.89898 -> 4.90625.
    expect(embeddingNormalizer(24, 'bf16')).toBe(4.90625);
  });
});
