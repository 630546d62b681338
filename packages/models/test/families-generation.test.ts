// The static KV cache with the new families: sliding windows shorter than the
// generated text (written into and masked over cache slots), Gemma 2's soft-capping,
// Phi-3's fused projections and partial rotary. Greedy with the cache must equal
// greedy without it and greedy over the independent float64 forward.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createReferenceBackend, type Backend, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { buildModel, Generator, generateWithoutCache, parseConfig } from '../src/index.js';
import { familyLogits, type Family } from './families-reference.js';
import { randomWeights } from './hf-reference.js';

const reference: Backend = createReferenceBackend({ float64Results: false });
const prompt = [5, 17, 3, 29, 11, 8];
const base = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 };

/** Family, config, and a weight seed whose greedy text is not one repeated token (so the comparison can fail). */
const cases: [Family, Record<string, unknown>, number][] = [
  ['gemma2', { ...base, architectures: ['Gemma2ForCausalLM'], head_dim: 6, query_pre_attn_scalar: 5, attn_logit_softcapping: 3, final_logit_softcapping: 8, sliding_window: 3 }, 31],
  ['phi3', { ...base, architectures: ['Phi3ForCausalLM'], partial_rotary_factor: 0.5, sliding_window: 4 }, 31],
  ['qwen2', { ...base, architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: true, use_sliding_window: true, sliding_window: 3, max_window_layers: 1 }, 35],
  ['qwen3', { ...base, architectures: ['Qwen3ForCausalLM'], head_dim: 6 }, 31],
  ['mistral', { ...base, architectures: ['MistralForCausalLM'], sliding_window: 5 }, 31],
];

/** Greedy decoding over the float64 reference forward. */
function referenceGreedy(f: Family, config: Record<string, unknown>, weights: ReadonlyMap<string, HostTensor>, n: number, start: readonly number[] = prompt): number[] {
  const seq = [...start];
  const out: number[] = [];
  while (out.length < n) {
    const logits = familyLogits(f, config, weights, seq);
    const last = logits[logits.length - 1];
    const next = last.indexOf(Math.max(...last));
    out.push(next);
    seq.push(next);
  }
  return out;
}

describe('generation with a static KV cache on the new families', () => {
  for (const [family, config, seed] of cases) {
    it(`${family}: greedy with cache (chunked prefill) equals greedy without and the float64 reference`, async () => {
      const model = buildModel(parseConfig(config));
      const weights = randomWeights(model.namedParams(), seed, 0.4);
      const maxLength = 16;
      const gen = await Generator.create(model, weights, { backend: reference, maxLength, prefillLength: 4 });
      const cached = await gen.generate(prompt, { maxNewTokens: 9 });
      gen.dispose();
      const plain = await generateWithoutCache(model, weights, reference, prompt, { maxNewTokens: 9, maxLength });
      expect(cached.tokens).toHaveLength(9);
      expect(cached.tokens).toEqual(plain.tokens);
      expect(cached.tokens).toEqual(referenceGreedy(family, config, weights, 9));
      expect(new Set(cached.tokens).size).toBeGreaterThan(1);
    });
  }

  it('gemma2 on backend-cpu: cached greedy equals uncached greedy', async () => {
    const [family, config, seed] = cases[0];
    const model = buildModel(parseConfig(config));
    const weights = randomWeights(model.namedParams(), seed, 0.4);
    const cpu = createCpuBackend({ threads: 2 });
    try {
      const gen = await Generator.create(model, weights, { backend: cpu, maxLength: 20, prefillLength: 8 });
      const cached = await gen.generate(prompt, { maxNewTokens: 12 });
      gen.dispose();
      const plain = await generateWithoutCache(model, weights, cpu, prompt, { maxNewTokens: 12, maxLength: 20 });
      expect(cached.tokens).toEqual(plain.tokens);
      expect(cached.tokens).toEqual(referenceGreedy(family, config, weights, 12));
      expect(new Set(cached.tokens).size).toBeGreaterThan(1);
    } finally {
      cpu.dispose();
    }
  });

  it('gemma2: a left-padded batch generates what each prompt generates alone (windows measured in cache slots)', async () => {
    const [family, config, seed] = cases[0];
    const model = buildModel(parseConfig(config));
    const weights = randomWeights(model.namedParams(), seed, 0.4);
    const prompts = [[5, 17, 3, 29, 11, 8, 2, 9], [5, 17, 3], [30, 1, 2, 3, 4]];
    const gen = await Generator.create(model, weights, { backend: reference, maxLength: 24, prefillLength: 4 });
    try {
      const batched = await gen.generateBatch(prompts, { maxNewTokens: 8 });
      for (let i = 0; i < prompts.length; i++) expect(batched[i].tokens).toEqual(referenceGreedy(family, config, weights, 8, prompts[i]));
    } finally {
      gen.dispose();
    }
  });
});
