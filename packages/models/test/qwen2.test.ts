// Qwen2ForCausalLM (Qwen2, Qwen2.5): q/k/v biases, tied embeddings, sliding-window fields.
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, parseConfig } from '../src/index.js';
import { checkLogits, checkLoraGradient, checkPeftRoundTrip, peftKeys, referenceLogits, relErr, removeTempDirs, writeCheckpoint, type FamilyCase } from './family-support.js';

afterAll(removeTempDirs);

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

function tensors(): Map<string, number[]> {
  const t = new Map<string, number[]>([['model.embed_tokens.weight', [V, H]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    t.set(`${p}.input_layernorm.weight`, [H]);
    t.set(`${p}.post_attention_layernorm.weight`, [H]);
    for (const [proj, out] of [['q_proj', NH * D], ['k_proj', KV * D], ['v_proj', KV * D]] as const) {
      t.set(`${p}.self_attn.${proj}.weight`, [out, H]);
      t.set(`${p}.self_attn.${proj}.bias`, [out]);
    }
    t.set(`${p}.self_attn.o_proj.weight`, [H, NH * D]);
    t.set(`${p}.mlp.gate_proj.weight`, [I, H]);
    t.set(`${p}.mlp.up_proj.weight`, [I, H]);
    t.set(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  t.set('model.norm.weight', [H]);
  return t;
}

const qwen2: FamilyCase = { family: 'qwen2', config, tensors: tensors() };

describe('Qwen2ForCausalLM against the float64 transformers equations', () => {
  it('logits on the reference evaluator and backend-cpu are within 1e-6 of the float64 forward', async () => {
    const { model, refErr, cpuErr } = await checkLogits(qwen2);
    console.log(`qwen2 logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
    expect(model.namedParams().has('lm_head.weight')).toBe(false);
    expect(model.namedParams().has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(refErr).toBeLessThan(1e-6);
    expect(cpuErr).toBeLessThan(1e-6);
  });

  it('the test exercises the window and the biases: the reference moves without them', async () => {
    const { weights } = await writeCheckpoint(qwen2);
    const base = referenceLogits(qwen2, weights);
    expect(relErr(referenceLogits(qwen2, weights, { ...config, use_sliding_window: false }), base)).toBeGreaterThan(1e-3);
    const noBias = new Map(weights);
    for (const k of noBias.keys()) if (k.endsWith('.bias')) noBias.set(k, { ...noBias.get(k)!, data: new Float32Array(noBias.get(k)!.data.length) });
    expect(relErr(referenceLogits(qwen2, noBias), base)).toBeGreaterThan(1e-3);
    // Without use_sliding_window, transformers keeps sliding_window null: no layer slides.
    expect((parseConfig({ ...config, use_sliding_window: false }) as { layer_types: string[] }).layer_types).toEqual(['full_attention', 'full_attention']);
    expect((parseConfig(config) as { layer_types: string[] }).layer_types).toEqual(['full_attention', 'sliding_attention']);
  });

  it('one LoRA step on all-linear: backend-cpu and reference gradients agree with float64 finite differences', async () => {
    const { model, weights } = await checkLogits(qwen2);
    const g = await checkLoraGradient(qwen2, model, weights, 'all-linear');
    console.log(`qwen2 LoRA gradients (${g.tensors} tensors): cpu vs reference ${g.cpuVsReference.toExponential(2)}, reference vs finite differences ${g.referenceVsFiniteDifference.toExponential(2)}`);
    expect(g.tensors).toBe(L * 7 * 2);
    expect(g.cpuVsReference).toBeLessThan(1e-5);
    expect(g.referenceVsFiniteDifference).toBeLessThan(1e-5);
  });

  it("the PEFT adapter round-trips with PEFT's key names", async () => {
    const model = buildModel(parseConfig(config));
    const { weights } = await writeCheckpoint(qwen2);
    const modules = new Map<string, [number, number]>();
    for (let l = 0; l < L; l++) {
      modules.set(`model.layers.${l}.self_attn.q_proj`, [NH * D, H]);
      modules.set(`model.layers.${l}.self_attn.k_proj`, [KV * D, H]);
      modules.set(`model.layers.${l}.self_attn.v_proj`, [KV * D, H]);
    }
    await checkPeftRoundTrip(model, weights, ['q_proj', 'k_proj', 'v_proj'], peftKeys(modules, 2));
  });
});
