import { createCpuBackend } from '@lowrank/backend-cpu';
import { createWebGpuBackend, webGpuAvailable } from '@lowrank/backend-webgpu';
import { evaluate, Graph, NDArray, type HostTensor } from '@lowrank/core';
import { ByteTokenizer, createPreset, INPUT_IDS, type LanguageModel } from '@lowrank/models';
import { applyDyLora, initialAdapterState, setAdapterTraining } from '@lowrank/variants';
import { afterAll, describe, expect, it } from 'vitest';
import { AnswerRequestError, greedyExactMatch } from './accuracy.js';
import type { TaskExample } from './task.js';

/** Greedy continuation by the float64 reference interpreter: the whole sequence forward each token, no cache. */
function referenceGreedy(model: LanguageModel, values: ReadonlyMap<string, HostTensor>, feeds: Readonly<Record<string, HostTensor>>, prompt: readonly number[], maxNew: number, eos: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  while (out.length < maxNew) {
    const g = new Graph();
    g.output('logits', model.forward({ inputIds: g.input(INPUT_IDS, [1, seq.length], 'i32') }).logits);
    const f: Record<string, NDArray> = { [INPUT_IDS]: NDArray.fromHost([1, seq.length], 'i32', Int32Array.from(seq)) };
    for (const name of g.params.keys()) {
      const t = values.get(name)!;
      f[name] = NDArray.fromHost(t.shape, t.dtype, t.data);
    }
    for (const [name, t] of Object.entries(feeds)) if (g.inputs.has(name)) f[name] = NDArray.fromHost(t.shape, t.dtype, t.data);
    const logits = evaluate(g, f).get('logits')!;
    const V = logits.shape[2];
    const row = logits.data.subarray((seq.length - 1) * V, seq.length * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
    out.push(best);
    if (best === eos) break;
    seq.push(best);
  }
  return out;
}

// A tiny LLaMA with a rank-4 DyLoRA adapter (non-zero B, so every rank changes the answers): its rank is a
// graph input, which the generator must feed to every prefill and decode step.
const { model, weights } = createPreset('llama-tiny', { seed: 5 });
const dy = applyDyLora(model, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'], init_lora_weights: false });
setAdapterTraining(model, false);
const values = new Map<string, HostTensor>([...weights, ...initialAdapterState(model, weights, { seed: 6 })]);
const tok = new ByteTokenizer();
// Prompts of different lengths (left padding in a batch), expected answers 3 bytes long (so 4 new tokens).
const examples: TaskExample[] = ['a', 'first: x y', 'zz top', 'seven', 'the cat sat', 'q'].map((prompt) => ({ task: 'first', prompt, answer: ' ok' }));
const cpu = createCpuBackend();
afterAll(() => cpu.dispose());

describe('greedy exact-match answers through the Generator', () => {
  it('match the float64 reference at each DyLoRA rank, in batches of 4 (two runner shapes), with either cache residency', async () => {
    const byRank: number[][][] = [];
    for (const rank of [1, 4]) {
      const feeds = dy.feedsForRank(rank);
      const reference = examples.map((e) => referenceGreedy(model, values, feeds, tok.encode(e.prompt, { addSpecialTokens: true }), 4, tok.eosId));
      for (const residency of ['host', 'backend'] as const) {
        const m = await greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples, batchSize: 4, feeds, residency });
        expect(m.generatedIds, `rank ${rank}, ${residency} cache`).toEqual(reference);
        expect(m.maxNewTokens).toBe(4);
        expect(m.generation.residency).toBe(residency);
        expect(m.generation.decodeGraphs).toBe(2); // a batch of 4 rows, then one of 2
        expect(m.generation.decodeSteps).toBeGreaterThan(0);
        expect(m.promptIds[1]).toEqual(tok.encode('first: x y', { addSpecialTokens: true }));
        // The answer is the generated text without the stop token, scored against the expected text.
        m.answers.forEach((a, i) => {
          const text = tok.decode(reference[i].filter((t) => t !== tok.eosId), { skipSpecialTokens: true });
          expect(a.answer).toBe(text);
          expect(a.correct).toBe(text === ' ok');
        });
      }
      byRank.push(reference);
    }
    // The rank feed reached the graph: rank 1 and rank 4 answer differently.
    expect(byRank[0]).not.toEqual(byRank[1]);
  }, 120_000);

  it('with more new tokens, wrong answers run on and right ones are unchanged (they stopped), so the score is the same', async () => {
    const feeds = dy.feedsForRank(4);
    const short = await greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples, batchSize: 6, feeds });
    const long = await greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples, batchSize: 6, feeds, maxNewTokens: 7 });
    expect(long.maxNewTokens).toBe(7);
    expect(long.generatedIds).toEqual(examples.map((e) => referenceGreedy(model, values, feeds, tok.encode(e.prompt, { addSpecialTokens: true }), 7, tok.eosId)));
    long.generatedIds.forEach((ids, i) => expect(ids.slice(0, short.generatedIds[i].length)).toEqual(short.generatedIds[i]));
    expect(long.correct).toBe(short.correct);
  }, 60_000);

  it('refuses an empty example list with a message saying what to pass', async () => {
    await expect(greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples: [], batchSize: 4 })).rejects.toThrow(AnswerRequestError);
    await expect(greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples: [], batchSize: 4 })).rejects.toThrow(/pass at least one/);
    // ' ok' is 3 byte tokens: 4 new tokens at least, so that a right answer has room to stop.
    await expect(greedyExactMatch({ backend: cpu, model, tokenizer: tok, values, examples, batchSize: 4, maxNewTokens: 3 })).rejects.toThrow(/at least 4 .*got 3/);
  });
});

const SKIP_WEBGPU = !(await webGpuAvailable()) && process.env.CI !== 'true';
if (SKIP_WEBGPU) console.warn('[demo] skipping the WebGPU answers test: no WebGPU adapter on this machine');

describe.skipIf(SKIP_WEBGPU)('greedy exact-match answers on backend-webgpu (the web page path)', () => {
  it('hold the cache on the device by default and match the float64 reference at each DyLoRA rank', async () => {
    const gpu = await createWebGpuBackend();
    try {
      for (const rank of [1, 4]) {
        const feeds = dy.feedsForRank(rank);
        const m = await greedyExactMatch({ backend: gpu, model, tokenizer: tok, values, examples, batchSize: 4, feeds, maxNewTokens: 6 });
        expect(m.generation.residency).toBe('backend');
        expect(m.generatedIds, `rank ${rank}`).toEqual(examples.map((e) => referenceGreedy(model, values, feeds, tok.encode(e.prompt, { addSpecialTokens: true }), 6, tok.eosId)));
      }
    } finally {
      gpu.dispose();
    }
  }, 180_000);
});
