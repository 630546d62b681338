import { tmpdir } from 'node:os';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createWebGpuBackend, webGpuAvailable } from '@lowrank/backend-webgpu';
import { NDArray, evaluate, type Backend } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { ConfigError, buildModel, parseConfig, traceLanguageModel, type LanguageModel } from '../src/index.js';
import { gpt2Reference, llamaReference, randomWeights, type GPT2RefConfig, type LlamaRefConfig } from './hf-reference.js';

const BATCH = 2;
const SEQ = 6;
const VOCAB = 40;
const ids = Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7 + 3) % VOCAB);

function ourLogits(model: LanguageModel, weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): Float64Array {
  const { graph } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ });
  const feeds: Record<string, NDArray> = { input_ids: NDArray.from([BATCH, SEQ], ids, 'i32') };
  for (const [n, t] of weights) feeds[n] = NDArray.fromHost(t.shape, 'f32', t.data);
  return evaluate(graph, feeds, ['logits']).get('logits')!.data;
}

/** Largest |ours - ref| relative to the largest |ref|. */
function relErr(ours: Float64Array, ref: number[][][]): number {
  const flat = ref.flat(2);
  expect(flat.length).toBe(ours.length);
  const scale = Math.max(...flat.map(Math.abs));
  return Math.max(...flat.map((v, i) => Math.abs(v - ours[i]))) / scale;
}

const llamaCases: [string, Record<string, unknown>][] = [
  ['GQA (4 heads, 2 kv heads), untied, rope_theta 100, eps 1e-2', { num_key_value_heads: 2, tie_word_embeddings: false, rope_theta: 100, rms_norm_eps: 1e-2 }],
  ['MQA (1 kv head), tied embeddings, attention bias, eps 1e-6', { num_key_value_heads: 1, tie_word_embeddings: true, attention_bias: true, rms_norm_eps: 1e-6 }],
  ['MHA, default rope_theta 10000', { num_key_value_heads: 4, tie_word_embeddings: false }],
  [
    'llama3 rope_scaling (one frequency kept, one smoothed)',
    { rope_theta: 100, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } },
  ],
  ['linear rope_scaling (older "type" key)', { rope_scaling: { type: 'linear', factor: 4 } }],
];

describe('LlamaForCausalLM matches the float64 Hugging Face equations', () => {
  for (const [label, overrides] of llamaCases) {
    it(label, () => {
      const raw = { architectures: ['LlamaForCausalLM'], vocab_size: VOCAB, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, ...overrides };
      const config = parseConfig(raw);
      const model = buildModel(config);
      const weights = randomWeights(model.namedParams(), 11);
      const ours = ourLogits(model, weights);
      const ref = [0, 1].map((b) => llamaReference(config as unknown as LlamaRefConfig, weights, ids.slice(b * SEQ, (b + 1) * SEQ)));
      const err = relErr(ours, ref);
      console.log(`${label}: max relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('the reference is sensitive to the fields under test (rope_theta, eps, kv heads)', () => {
    const base = { architectures: ['LlamaForCausalLM'], vocab_size: VOCAB, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2 };
    const model = buildModel(parseConfig(base));
    const weights = randomWeights(model.namedParams(), 5);
    const seq = ids.slice(0, SEQ);
    const a = llamaReference(parseConfig(base) as unknown as LlamaRefConfig, weights, seq).flat();
    const b = llamaReference(parseConfig({ ...base, rope_theta: 100 }) as unknown as LlamaRefConfig, weights, seq).flat();
    const c = llamaReference(parseConfig({ ...base, rms_norm_eps: 0.5 }) as unknown as LlamaRefConfig, weights, seq).flat();
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-4);
    expect(Math.max(...a.map((v, i) => Math.abs(v - c[i])))).toBeGreaterThan(1e-4);
    const scaled = { ...base, rope_theta: 100, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } };
    const d = llamaReference(parseConfig(scaled) as unknown as LlamaRefConfig, weights, seq).flat();
    const e = llamaReference(parseConfig({ ...scaled, rope_scaling: null }) as unknown as LlamaRefConfig, weights, seq).flat();
    expect(Math.max(...d.map((v, i) => Math.abs(v - e[i])))).toBeGreaterThan(1e-4);
  });

  it('rejects rope_scaling kinds it does not implement', () => {
    const raw = { architectures: ['LlamaForCausalLM'], vocab_size: VOCAB, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 4 };
    expect(() => parseConfig({ ...raw, rope_scaling: { rope_type: 'yarn', factor: 2 } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...raw, rope_scaling: { rope_type: 'llama3', factor: 2 } })).toThrow(/low_freq_factor/);
  });
});

describe('GPT2LMHeadModel matches the float64 Hugging Face equations', () => {
  for (const [label, overrides] of [
    ['tied embeddings, gelu_new, layer_norm_epsilon 1e-3', { layer_norm_epsilon: 1e-3 }],
    ['scale_attn_by_inverse_layer_idx', { scale_attn_by_inverse_layer_idx: true }],
  ] as const) {
    it(label, () => {
      const raw = { architectures: ['GPT2LMHeadModel'], vocab_size: VOCAB, n_embd: 16, n_layer: 2, n_head: 4, n_positions: 32, ...overrides };
      const config = parseConfig(raw);
      const model = buildModel(config);
      expect(model.namedParams().has('lm_head.weight')).toBe(false);
      expect(model.namedParams().get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([16, 48]);
      const weights = randomWeights(model.namedParams(), 23);
      const ours = ourLogits(model, weights);
      const ref = [0, 1].map((b) => gpt2Reference(config as unknown as GPT2RefConfig, weights, ids.slice(b * SEQ, (b + 1) * SEQ)));
      const err = relErr(ours, ref);
      console.log(`${label}: max relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }
});

// Vulkan loaders warn when this is unset.
process.env.XDG_RUNTIME_DIR ??= tmpdir();
const SKIP_WEBGPU = !(await webGpuAvailable()) && process.env.CI !== 'true';
if (SKIP_WEBGPU) console.warn('[models] skipping WebGPU semantics tests: no WebGPU adapter on this machine');

async function backendLogits(backend: Backend, model: LanguageModel, weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): Promise<Float32Array> {
  const { graph } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ });
  const exe = await backend.compile(graph);
  await exe.setParameters(Object.fromEntries([...graph.params.keys()].map((n) => [n, { ...weights.get(n)!, dtype: 'f32' as const }])));
  const out = await exe.run({ input_ids: { shape: [BATCH, SEQ], dtype: 'i32', data: Int32Array.from(ids) } });
  exe.dispose();
  return out.logits.data as Float32Array;
}

describe('float32 backends run the traced models within 1e-5 of the float64 equations', () => {
  const cases = [
    ['LLaMA (GQA, rope_theta 100)', { architectures: ['LlamaForCausalLM'], vocab_size: VOCAB, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 100 }],
    ['GPT-2 (tied)', { architectures: ['GPT2LMHeadModel'], vocab_size: VOCAB, n_embd: 16, n_layer: 2, n_head: 4, n_positions: 32 }],
  ] as const;
  const makers: [string, boolean, () => Promise<Backend>][] = [
    ['backend-cpu', false, async () => createCpuBackend({ threads: 2 })],
    ['backend-webgpu', SKIP_WEBGPU, () => createWebGpuBackend()],
  ];
  for (const [backendName, skip, make] of makers) {
    for (const [label, raw] of cases) {
      it.skipIf(skip)(`${backendName}: ${label}`, async () => {
        const config = parseConfig(raw);
        const model = buildModel(config);
        const weights = randomWeights(model.namedParams(), 17);
        const seqs = [0, 1].map((b) => ids.slice(b * SEQ, (b + 1) * SEQ));
        const ref = seqs.map((seq) => (config.model_type === 'llama' ? llamaReference(config as unknown as LlamaRefConfig, weights, seq) : gpt2Reference(config as unknown as GPT2RefConfig, weights, seq)));
        const backend = await make();
        try {
          const ours = await backendLogits(backend, model, weights);
          const err = relErr(Float64Array.from(ours), ref);
          console.log(`${backendName} ${label}: max relative error ${err.toExponential(2)}`);
          expect(err).toBeLessThan(1e-5);
        } finally {
          backend.dispose();
        }
      });
    }
  }
});
