import { tmpdir } from 'node:os';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createWebGpuBackend, webGpuAvailable } from '@lowrank/backend-webgpu';
import { createReferenceBackend, type Backend, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { Generator, GenerationError, GenerationOptionsError, createPreset, generateWithoutCache, sampleToken, seededUniform, type LanguageModel } from '../src/index.js';
import { randomWeights } from './hf-reference.js';

/** A preset with larger weights than the init, so greedy choices are far from ties. */
function sharpModel(preset: string): { model: LanguageModel; weights: Map<string, HostTensor> } {
  const { model } = createPreset(preset);
  return { model, weights: randomWeights(model.namedParams(), 99, 0.35) };
}

const backend: Backend = createReferenceBackend({ float64Results: false });
const prompt = [256, 72, 101, 108, 108, 111];

describe('generation with a static KV cache', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: greedy with cache equals greedy without, token for token (chunked prefill)`, async () => {
      const { model, weights } = sharpModel(preset);
      const maxLength = 16;
      const gen = await Generator.create(model, weights, { backend, maxLength, prefillLength: 4 });
      const cached = await gen.generate(prompt, { maxNewTokens: 9 });
      gen.dispose();
      const plain = await generateWithoutCache(model, weights, backend, prompt, { maxNewTokens: 9, maxLength });
      expect(cached.tokens).toHaveLength(9);
      expect(cached.tokens).toEqual(plain.tokens);
      expect(cached.stopReason).toBe('length');
      // A degenerate model repeating one token would pass trivially.
      expect(new Set(cached.tokens).size).toBeGreaterThan(1);
    });
  }

  it('a last prefill chunk that would overhang the cache overlaps the chunk before instead', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    // Cache 8, chunks of 5, prompt 6: the second chunk runs slots 1..5, recomputing 1..4 (same keys and values).
    const gen = await Generator.create(model, weights, { backend, maxLength: 8, prefillLength: 5 });
    const cached = await gen.generate(prompt, { maxNewTokens: 5 });
    gen.dispose();
    const plain = await generateWithoutCache(model, weights, backend, prompt, { maxNewTokens: 5, maxLength: 8 });
    expect(cached.tokens).toHaveLength(2);
    expect(cached.tokens).toEqual(plain.tokens);
  });

  it('seeded sampling (temperature, top-k, top-p) is reproducible and agrees with and without the cache', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    const gen = await Generator.create(model, weights, { backend, maxLength: 14, prefillLength: 8 });
    const opts = { maxNewTokens: 6, temperature: 1.5, topK: 20, topP: 0.95, seed: 7 };
    const a = await gen.generate(prompt, opts);
    const b = await gen.generate(prompt, opts);
    expect(a.tokens).toEqual(b.tokens);
    const plain = await generateWithoutCache(model, weights, backend, prompt, { ...opts, maxLength: 14 });
    expect(a.tokens).toEqual(plain.tokens);
    const others = await Promise.all([1, 2, 3].map((seed) => gen.generate(prompt, { ...opts, seed })));
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
    // top-k 1 is greedy.
    const greedy = await gen.generate(prompt, { maxNewTokens: 6 });
    expect((await gen.generate(prompt, { maxNewTokens: 6, topK: 1, temperature: 3, seed: 5 })).tokens).toEqual(greedy.tokens);
    gen.dispose();
  });

  it('stops at a stop token (included) and respects the cache length', async () => {
    const { model, weights } = sharpModel('gpt2-tiny');
    const gen = await Generator.create(model, weights, { backend, maxLength: 12, prefillLength: 8 });
    const free = await gen.generate(prompt, { maxNewTokens: 4 });
    const stopAt = free.tokens[2];
    const firstIdx = free.tokens.indexOf(stopAt);
    const stopped = await gen.generate(prompt, { maxNewTokens: 4, stopTokens: [stopAt] });
    expect(stopped.stopReason).toBe('stop');
    expect(stopped.tokens).toEqual(free.tokens.slice(0, firstIdx + 1));
    const long = await gen.generate(prompt, { maxNewTokens: 100 });
    expect(long.tokens).toHaveLength(12 - prompt.length);
    await expect(gen.generate(new Array(12).fill(1), { maxNewTokens: 1 })).rejects.toBeInstanceOf(GenerationError);
    await expect(gen.generate(prompt, { maxNewTokens: 1, temperature: 0 })).rejects.toBeInstanceOf(GenerationOptionsError);
    gen.dispose();
  });
});

describe('generation on backend-cpu (onnxruntime-node)', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: greedy with cache equals greedy without and the reference, compiling two graphs for 20 tokens`, async () => {
      const { model, weights } = sharpModel(preset);
      const cpu = createCpuBackend({ threads: 2 });
      let compiles = 0;
      const counting: Backend = { ...cpu, compile: (g, s) => (compiles++, cpu.compile(g, s)), memoryStats: () => cpu.memoryStats(), dispose: () => cpu.dispose() };
      const gen = await Generator.create(model, weights, { backend: counting, maxLength: 32, prefillLength: 8 });
      const cached = await gen.generate(prompt, { maxNewTokens: 20 });
      gen.dispose();
      expect(compiles).toBe(2);
      const plain = await generateWithoutCache(model, weights, cpu, prompt, { maxNewTokens: 20, maxLength: 32 });
      const ref = await generateWithoutCache(model, weights, backend, prompt, { maxNewTokens: 20, maxLength: 32 });
      expect(cached.tokens).toHaveLength(20);
      expect(cached.tokens).toEqual(plain.tokens);
      expect(cached.tokens).toEqual(ref.tokens);
      cpu.dispose();
    });
  }
});

// Vulkan loaders warn when this is unset.
process.env.XDG_RUNTIME_DIR ??= tmpdir();
const HAVE_WEBGPU = await webGpuAvailable();
// Outside CI a machine without a WebGPU adapter (Mesa >= 25 lavapipe, or a GPU) skips; under CI=true it must run.
const SKIP_WEBGPU = !HAVE_WEBGPU && process.env.CI !== 'true';
if (SKIP_WEBGPU) console.warn('[models] skipping WebGPU generation tests: no WebGPU adapter on this machine');

describe.skipIf(SKIP_WEBGPU)('generation on backend-webgpu (tfjs WebGPU)', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: greedy with cache equals greedy without and the reference`, async () => {
      const { model, weights } = sharpModel(preset);
      const gpu = await createWebGpuBackend();
      try {
        const gen = await Generator.create(model, weights, { backend: gpu, maxLength: 20, prefillLength: 8 });
        const cached = await gen.generate(prompt, { maxNewTokens: 12 });
        gen.dispose();
        const plain = await generateWithoutCache(model, weights, gpu, prompt, { maxNewTokens: 12, maxLength: 20 });
        const ref = await generateWithoutCache(model, weights, backend, prompt, { maxNewTokens: 12, maxLength: 20 });
        expect(cached.tokens).toHaveLength(12);
        expect(cached.tokens).toEqual(plain.tokens);
        expect(cached.tokens).toEqual(ref.tokens);
      } finally {
        gpu.dispose();
      }
    });
  }
});

describe('sampling filters', () => {
  const logits = Float32Array.of(2, 1.5, 0.3, -1, 0.9);
  const softmax = (xs: number[]) => {
    const m = Math.max(...xs);
    const e = xs.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  };

  it('top-k keeps the k most likely tokens with renormalised softmax frequencies', () => {
    const u = seededUniform(1);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { topK: 2 }, u)]++;
    expect(counts[2] + counts[3] + counts[4]).toBe(0);
    const p = softmax([2, 1.5]);
    expect(Math.abs(counts[0] / n - p[0])).toBeLessThan(0.015);
  });

  it('top-p keeps the smallest prefix reaching p, and temperature sharpens', () => {
    const probs = softmax(Array.from(logits));
    // Sorted: 0 (p0), 1, 4, 2, 3. With p just above p0 + p1, token 4 must stay and 2, 3 must go.
    const p = probs[0] + probs[1] + 1e-6;
    const u = seededUniform(2);
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) seen.add(sampleToken(logits, { topP: p }, u));
    expect([...seen].sort()).toEqual([0, 1, 4]);
    const cold = new Array(5).fill(0);
    for (let i = 0; i < 5000; i++) cold[sampleToken(logits, { temperature: 0.05 }, u)]++;
    expect(cold[0]).toBeGreaterThan(4990);
  });
});
