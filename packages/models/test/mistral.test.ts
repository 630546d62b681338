// MistralForCausalLM: the LLaMA layout with sliding_window honoured once the sequence exceeds it.
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, parseConfig } from '../src/index.js';
import { checkLogits, checkLoraGradient, checkPeftRoundTrip, peftKeys, referenceLogits, relErr, removeTempDirs, SEQ, writeCheckpoint, type FamilyCase } from './family-support.js';

afterAll(removeTempDirs);

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

function tensors(): Map<string, number[]> {
  const t = new Map<string, number[]>([['model.embed_tokens.weight', [V, H]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    t.set(`${p}.input_layernorm.weight`, [H]);
    t.set(`${p}.post_attention_layernorm.weight`, [H]);
    t.set(`${p}.self_attn.q_proj.weight`, [NH * D, H]);
    t.set(`${p}.self_attn.k_proj.weight`, [KV * D, H]);
    t.set(`${p}.self_attn.v_proj.weight`, [KV * D, H]);
    t.set(`${p}.self_attn.o_proj.weight`, [H, NH * D]);
    t.set(`${p}.mlp.gate_proj.weight`, [I, H]);
    t.set(`${p}.mlp.up_proj.weight`, [I, H]);
    t.set(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  t.set('model.norm.weight', [H]);
  t.set('lm_head.weight', [V, H]);
  return t;
}

const mistral: FamilyCase = { family: 'mistral', config, tensors: tensors() };

describe('MistralForCausalLM against the float64 transformers equations', () => {
  it('logits on the reference evaluator and backend-cpu are within 1e-6 of the float64 forward', async () => {
    const { refErr, cpuErr } = await checkLogits(mistral);
    console.log(`mistral logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
    expect(refErr).toBeLessThan(1e-6);
    expect(cpuErr).toBeLessThan(1e-6);
  });

  it('the window matters only past it: the reference moves with sliding_window null, not with a window of the sequence length', async () => {
    const { weights } = await writeCheckpoint(mistral);
    const base = referenceLogits(mistral, weights);
    expect(relErr(referenceLogits(mistral, weights, { ...config, sliding_window: null }), base)).toBeGreaterThan(1e-3);
    const wide = { ...config, sliding_window: SEQ };
    const model = buildModel(parseConfig(wide));
    expect(relErr(referenceLogits(mistral, weights, wide), referenceLogits(mistral, weights, { ...config, sliding_window: null }))).toBe(0);
    expect(model.cacheLayout().maxPositions).toBe(256);
  });

  it('one LoRA step on all-linear: backend-cpu and reference gradients agree with float64 finite differences', async () => {
    const { model, weights } = await checkLogits(mistral);
    const g = await checkLoraGradient(mistral, model, weights, 'all-linear');
    console.log(`mistral LoRA gradients (${g.tensors} tensors): cpu vs reference ${g.cpuVsReference.toExponential(2)}, reference vs finite differences ${g.referenceVsFiniteDifference.toExponential(2)}`);
    expect(g.tensors).toBe(L * 7 * 2);
    expect(g.cpuVsReference).toBeLessThan(1e-5);
    expect(g.referenceVsFiniteDifference).toBeLessThan(1e-5);
  });

  it("the PEFT adapter round-trips with PEFT's key names", async () => {
    const model = buildModel(parseConfig(config));
    const { weights } = await writeCheckpoint(mistral);
    const modules = new Map<string, [number, number]>();
    for (let l = 0; l < L; l++) {
      modules.set(`model.layers.${l}.self_attn.q_proj`, [NH * D, H]);
      modules.set(`model.layers.${l}.self_attn.v_proj`, [KV * D, H]);
    }
    await checkPeftRoundTrip(model, weights, ['q_proj', 'v_proj'], peftKeys(modules, 2));
  });
});
