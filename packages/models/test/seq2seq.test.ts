import { NDArray, createReferenceBackend, evaluate, gradTrainable } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { GenerationError, Generator, buildModel, generateWithoutCache, presetConfig, traceLanguageModel, type LanguageModel } from '../src/index.js';
import { randomWeights, seq2seqReference, type Seq2SeqRefConfig } from './hf-reference.js';

const B = 2;
const T = 5; // encoder length
const S = 4; // decoder length
const config = presetConfig('seq2seq-tiny', { vocab_size: 30, hidden_size: 16, intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2 });
const enc = Array.from({ length: B * T }, (_, i) => (i * 11 + 2) % 30);
const dec = Array.from({ length: B * S }, (_, i) => (i * 5 + 1) % 30);

function run(model: LanguageModel, weights: Map<string, { shape: number[]; data: Float32Array }>, encIds = enc, decIds = dec, withLoss = false) {
  const { graph } = traceLanguageModel(model, { batch: B, seqLen: S, encoderLen: T, withLoss });
  const feeds: Record<string, NDArray> = { input_ids: NDArray.from([B, S], decIds, 'i32'), encoder_ids: NDArray.from([B, T], encIds, 'i32') };
  if (withLoss) feeds.labels = NDArray.from([B, S], decIds, 'i32');
  for (const [n, t] of weights) feeds[n] = NDArray.fromHost(t.shape, 'f32', t.data);
  return { graph, feeds };
}

describe('encoder-decoder with cross-attention', () => {
  const model = buildModel(config);
  const weights = randomWeights(model.namedParams(), 31);

  it('names cross-attention projections as adapters target them', () => {
    const names = [...model.namedParams().keys()];
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) expect(names).toContain(`model.decoder.layers.1.cross_attn.${p}.weight`);
    expect(model.namedParams().get('model.decoder.layers.0.cross_attn.k_proj.weight')!.shape).toEqual([8, 16]);
  });

  it('logits match an independent float64 implementation (queries from the decoder, keys/values from the encoder)', () => {
    const { graph, feeds } = run(model, weights);
    const ours = evaluate(graph, feeds, ['logits']).get('logits')!.data;
    const ref = [0, 1].flatMap((b) => seq2seqReference(config as unknown as Seq2SeqRefConfig, weights, enc.slice(b * T, (b + 1) * T), dec.slice(b * S, (b + 1) * S))).flat();
    const scale = Math.max(...ref.map(Math.abs));
    expect(Math.max(...ref.map((v, i) => Math.abs(v - ours[i]))) / scale).toBeLessThan(1e-5);
  });

  it('decoder logits depend on the encoder input; the decoder stays causal', () => {
    const logitsOf = (encIds: number[], decIds: number[]) => {
      const { graph, feeds } = run(model, weights, encIds, decIds);
      return evaluate(graph, feeds, ['logits']).get('logits')!.data;
    };
    const base = logitsOf(enc, dec);
    const encChanged = [...enc];
    encChanged[T - 1] = (encChanged[T - 1] + 1) % 30;
    const a = logitsOf(encChanged, dec);
    expect(Math.max(...a.slice(0, S * 30).map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-6);
    const decChanged = [...dec];
    decChanged[S - 1] = (decChanged[S - 1] + 1) % 30;
    const c = logitsOf(enc, decChanged);
    const earlier = (S - 1) * 30;
    expect(Math.max(...c.slice(0, earlier).map((v, i) => Math.abs(v - base[i])))).toBe(0);
  });

  it('the loss has gradients for the cross-attention q, k and v projections', () => {
    model.setTrainable(true, (n) => /decoder\.layers\.0\.cross_attn\.[qkv]_proj/.test(n));
    const { graph, feeds } = run(model, weights, enc, dec, true);
    model.setTrainable(false);
    const grads = gradTrainable(graph.outputTensor('loss'));
    const names = [...grads.keys()].sort();
    expect(names).toEqual(['model.decoder.layers.0.cross_attn.k_proj.weight', 'model.decoder.layers.0.cross_attn.q_proj.weight', 'model.decoder.layers.0.cross_attn.v_proj.weight']);
    const ids = names.map((n) => grads.get(n)!.id);
    const vals = evaluate(graph, feeds, ids);
    for (const id of ids) expect(Math.max(...Array.from(vals.get(id)!.data, Math.abs))).toBeGreaterThan(1e-6);
  });

  it('generates conditioned on the encoder input (without a cache; the cached generator refuses it)', async () => {
    const backend = createReferenceBackend({ float64Results: false });
    const run = (encoderIds: number[]) => generateWithoutCache(model, weights, backend, [1], { maxNewTokens: 4, maxLength: 6, encoderIds });
    const a = await run(enc.slice(0, T));
    expect(a.tokens).toHaveLength(4);
    expect(a.tokens.every((t) => t >= 0 && t < 30)).toBe(true);
    const again = await run(enc.slice(0, T));
    expect(again.tokens).toEqual(a.tokens);
    await expect(Generator.create(model, weights, { backend, maxLength: 8 })).rejects.toBeInstanceOf(GenerationError);
  });
});
