// Qwen3ForCausalLM: q_norm / k_norm per head before RoPE, head_dim decoupled from hidden / heads, no qkv bias.
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, parseConfig } from '../src/index.js';
import { checkLogits, checkLoraGradient, checkPeftRoundTrip, peftKeys, referenceLogits, relErr, removeTempDirs, writeCheckpoint, type FamilyCase } from './family-support.js';

afterAll(removeTempDirs);

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
    t.set(`${p}.self_attn.q_norm.weight`, [D]);
    t.set(`${p}.self_attn.k_norm.weight`, [D]);
    t.set(`${p}.mlp.gate_proj.weight`, [I, H]);
    t.set(`${p}.mlp.up_proj.weight`, [I, H]);
    t.set(`${p}.mlp.down_proj.weight`, [H, I]);
  }
  t.set('model.norm.weight', [H]);
  t.set('lm_head.weight', [V, H]);
  return t;
}

const qwen3: FamilyCase = { family: 'qwen3', config, tensors: tensors() };

describe('Qwen3ForCausalLM against the float64 transformers equations', () => {
  it('logits on the reference evaluator and backend-cpu are within 1e-6 of the float64 forward', async () => {
    const { refErr, cpuErr } = await checkLogits(qwen3);
    console.log(`qwen3 logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
    expect(refErr).toBeLessThan(1e-6);
    expect(cpuErr).toBeLessThan(1e-6);
  });

  it('the test exercises q_norm / k_norm: the reference moves when they are set to one', async () => {
    const { weights } = await writeCheckpoint(qwen3);
    const flat = new Map(weights);
    for (const k of flat.keys()) if (/[qk]_norm/.test(k)) flat.set(k, { ...flat.get(k)!, data: new Float32Array(D).fill(1) });
    expect(relErr(referenceLogits(qwen3, flat), referenceLogits(qwen3, weights))).toBeGreaterThan(1e-3);
  });

  it('one LoRA step on q,k,v,o,gate,up,down: backend-cpu and reference gradients agree with float64 finite differences', async () => {
    const { model, weights } = await checkLogits(qwen3);
    const g = await checkLoraGradient(qwen3, model, weights, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    console.log(`qwen3 LoRA gradients (${g.tensors} tensors): cpu vs reference ${g.cpuVsReference.toExponential(2)}, reference vs finite differences ${g.referenceVsFiniteDifference.toExponential(2)}`);
    expect(g.tensors).toBe(L * 7 * 2);
    expect(g.cpuVsReference).toBeLessThan(1e-5);
    expect(g.referenceVsFiniteDifference).toBeLessThan(1e-5);
  });

  it("the PEFT adapter round-trips with PEFT's key names (a regex target, PEFT's full match)", async () => {
    const model = buildModel(parseConfig(config));
    const { weights } = await writeCheckpoint(qwen3);
    // Full match on the module path: only layer 1's q_proj and o_proj (q_norm is not a Linear; o_proj of layer 0 is outside).
    const modules = new Map<string, [number, number]>([
      ['model.layers.1.self_attn.q_proj', [NH * D, H]],
      ['model.layers.1.self_attn.o_proj', [H, NH * D]],
    ]);
    await checkPeftRoundTrip(model, weights, 'model\\.layers\\.1\\.self_attn\\.(q|o)_.*', peftKeys(modules, 2));
  });
});
