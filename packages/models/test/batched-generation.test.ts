import { tmpdir } from 'node:os';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createWebGpuBackend, webGpuAvailable } from '@lowrank/backend-webgpu';
import { createReferenceBackend, type Backend, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { Generator, GenerationError, createPreset, generateWithoutCache, type GeneratorOptions, type LanguageModel } from '../src/index.js';
import { randomWeights } from './hf-reference.js';

/** A preset with larger weights than the init, so greedy choices are far from ties. */
function sharpModel(preset: string): { model: LanguageModel; weights: Map<string, HostTensor> } {
  const { model } = createPreset(preset);
  return { model, weights: randomWeights(model.namedParams(), 99, 0.35) };
}

const reference: Backend = createReferenceBackend({ float64Results: false });
// Different lengths, so the batch is left-padded by 0, 3 and 5 slots.
const prompts = [
  [256, 72, 101, 108, 108, 111, 33, 32],
  [256, 87, 111, 114, 108],
  [256, 65, 66],
];

/** Each prompt alone, with the seed its row gets in a batch. */
async function oneByOne(gen: Generator, opts: { maxNewTokens: number; seed?: number; temperature?: number; topK?: number; stopTokens?: number[] }) {
  const out = [];
  for (let i = 0; i < prompts.length; i++) out.push(await gen.generate(prompts[i], { ...opts, seed: (opts.seed ?? 0) + i }));
  return out;
}

/** A backend that counts compiles. */
function counting(b: Backend): { backend: Backend; compiles: () => number } {
  let n = 0;
  return { backend: { ...b, compile: (g, s) => (n++, b.compile(g, s)), memoryStats: () => b.memoryStats(), dispose: () => b.dispose() }, compiles: () => n };
}

async function checkBatchEqualsSingles(backend: Backend, preset: string, extra: Partial<GeneratorOptions> = {}): Promise<void> {
  const { model, weights } = sharpModel(preset);
  const gen = await Generator.create(model, weights, { backend, maxLength: 24, prefillLength: 4, ...extra });
  try {
    const batched = await gen.generateBatch(prompts, { maxNewTokens: 10 });
    const singles = await oneByOne(gen, { maxNewTokens: 10 });
    expect(batched.map((r) => r.tokens)).toEqual(singles.map((r) => r.tokens));
    // The longest prompt run without any cache is the independent oracle for row 0.
    const plain = await generateWithoutCache(model, weights, reference, prompts[0], { maxNewTokens: 10, maxLength: 24 });
    expect(batched[0].tokens).toEqual(plain.tokens);
    expect(new Set(batched.flatMap((r) => r.tokens)).size).toBeGreaterThan(2);
  } finally {
    gen.dispose();
  }
}

describe('batched generation on the reference backend', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: a left-padded batch equals its prompts run one by one, token for token`, () => checkBatchEqualsSingles(reference, preset));
  }

  it('rows stop on their own stop token; the others go on', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    const gen = await Generator.create(model, weights, { backend: reference, maxLength: 24, prefillLength: 8 });
    const free = await gen.generateBatch(prompts, { maxNewTokens: 8 });
    const stop = free[1].tokens[2];
    const stopped = await gen.generateBatch(prompts, { maxNewTokens: 8, stopTokens: [stop] });
    stopped.forEach((r, i) => {
      const at = free[i].tokens.indexOf(stop);
      if (at < 0) expect(r).toEqual({ tokens: free[i].tokens, stopReason: 'length' });
      else expect(r).toEqual({ tokens: free[i].tokens.slice(0, at + 1), stopReason: 'stop' });
    });
    expect(stopped[1].stopReason).toBe('stop');
    expect(stopped.some((r) => r.stopReason === 'length')).toBe(true);
    await expect(gen.generateBatch([], { maxNewTokens: 2 })).rejects.toBeInstanceOf(GenerationError);
    await expect(gen.generateBatch([prompts[0], []], { maxNewTokens: 2 })).rejects.toBeInstanceOf(GenerationError);
    gen.dispose();
  });

  it('seeded sampling: reproducible, row i equals its prompt alone with seed + i, and other seeds differ', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    const gen = await Generator.create(model, weights, { backend: reference, maxLength: 24, prefillLength: 8 });
    const opts = { maxNewTokens: 8, temperature: 1.5, topK: 40, seed: 11 };
    const a = await gen.generateBatch(prompts, opts);
    const b = await gen.generateBatch(prompts, opts);
    expect(a).toEqual(b);
    expect(a.map((r) => r.tokens)).toEqual((await oneByOne(gen, opts)).map((r) => r.tokens));
    const other = await gen.generateBatch(prompts, { ...opts, seed: 12 });
    expect(other.map((r) => r.tokens.join()).join('|')).not.toBe(a.map((r) => r.tokens.join()).join('|'));
    gen.dispose();
  });

  it('crossing cache length buckets compiles one prefill and one decode graph per bucket, not per token', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    const c = counting(reference);
    const gen = await Generator.create(model, weights, { backend: c.backend, maxLength: 32, prefillLength: 4, minBucket: 8 });
    expect(gen.buckets).toEqual([8, 16, 32]);
    const cached = await gen.generate(prompts[0], { maxNewTokens: 20 });
    expect(c.compiles()).toBe(6);
    const plain = await generateWithoutCache(model, weights, reference, prompts[0], { maxNewTokens: 20, maxLength: 32 });
    expect(cached.tokens).toEqual(plain.tokens);
    await gen.generate(prompts[0], { maxNewTokens: 20 });
    expect(c.compiles()).toBe(6);
    gen.dispose();
  });
});

describe('batched generation on backend-cpu (onnxruntime-node)', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: a left-padded batch equals its prompts one by one and the uncached reference`, async () => {
      const cpu = createCpuBackend({ threads: 2 });
      try {
        await checkBatchEqualsSingles(cpu, preset);
      } finally {
        cpu.dispose();
      }
    });
  }

  it('the cache held as executable state (backend residency) gives the same tokens across buckets', async () => {
    const { model, weights } = sharpModel('llama-tiny');
    const cpu = createCpuBackend({ threads: 2 });
    try {
      const host = await Generator.create(model, weights, { backend: cpu, maxLength: 32, prefillLength: 4, minBucket: 8 });
      const state = await Generator.create(model, weights, { backend: cpu, maxLength: 32, prefillLength: 4, minBucket: 8, residency: 'backend' });
      expect([host.residency, state.residency]).toEqual(['host', 'backend']);
      const a = await host.generateBatch(prompts, { maxNewTokens: 20 });
      const b = await state.generateBatch(prompts, { maxNewTokens: 20 });
      expect(b).toEqual(a);
      // Calls overlapping in time share the state executables; they are run one after the other.
      const [c, d] = await Promise.all([state.generateBatch(prompts, { maxNewTokens: 20 }), state.generateBatch(prompts, { maxNewTokens: 20 })]);
      expect([c, d]).toEqual([a, a]);
      host.dispose();
      state.dispose();
    } finally {
      cpu.dispose();
    }
  });
});

// Vulkan loaders warn when this is unset.
process.env.XDG_RUNTIME_DIR ??= tmpdir();
const HAVE_WEBGPU = await webGpuAvailable();
// Outside CI a machine without a WebGPU adapter (Mesa >= 25 lavapipe, or a GPU) skips; under CI=true it must run.
const SKIP_WEBGPU = !HAVE_WEBGPU && process.env.CI !== 'true';
if (SKIP_WEBGPU) console.warn('[models] skipping WebGPU batched generation tests: no WebGPU adapter on this machine');

describe.skipIf(SKIP_WEBGPU)('batched generation on backend-webgpu (device-resident cache)', () => {
  it('llama-tiny: a left-padded batch equals its prompts one by one, across buckets, and the uncached reference', async () => {
    const gpu = await createWebGpuBackend();
    try {
      const { model, weights } = sharpModel('llama-tiny');
      const probe = await Generator.create(model, weights, { backend: gpu, maxLength: 8 });
      expect(probe.residency).toBe('backend');
      probe.dispose();
      await checkBatchEqualsSingles(gpu, 'llama-tiny', { minBucket: 16 });
    } finally {
      gpu.dispose();
    }
  });
});
