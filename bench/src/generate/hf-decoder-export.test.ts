import { createReferenceBackend, Graph, type HostTensor } from '@lowrank/core';
import { buildModel, parseConfig, type LanguageModel } from '@lowrank/models';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../prng.js';
import { exportDecoderWithPast } from './hf-decoder-export.js';

// A tiny LLaMA (kv heads = heads, as the exporter requires) with seeded weights.
const config = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
};

function tinyModel(): { model: LanguageModel; weights: Map<string, HostTensor> } {
  const model = buildModel(parseConfig(config));
  const rand = new SeededRandom(5);
  const weights = new Map<string, HostTensor>();
  for (const [name, spec] of model.namedParams()) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('layernorm.weight') || name.endsWith('norm.weight');
    weights.set(name, { shape: [...spec.shape], dtype: 'f32', data: Float32Array.from({ length: n }, () => (norm ? 1 + 0.1 * rand.normal() : 0.3 * rand.normal())) });
  }
  return { model, weights };
}

/** lowrank's own forward on the float64 reference backend: logits [S, V] of one unpadded sequence. */
async function referenceLogits(model: LanguageModel, weights: Map<string, HostTensor>, ids: number[]): Promise<Float64Array> {
  const g = new Graph();
  g.output('logits', model.forward({ inputIds: g.input('input_ids', [1, ids.length], 'i32') }).logits);
  const exe = await createReferenceBackend().compile(g);
  await exe.setParameters(Object.fromEntries([...g.params.keys()].map((n) => [n, weights.get(n)!])));
  const out = await exe.run({ input_ids: { shape: [1, ids.length], dtype: 'i32', data: Int32Array.from(ids) } });
  return Float64Array.from(out.logits.data);
}

const i64 = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
const emptyPast = (s: InferenceSession, batch: number) =>
  Object.fromEntries(s.inputNames.filter((n) => n.startsWith('past_key_values')).map((n) => [n, new Tensor('float32', new Float32Array(0), [batch, 4, 0, 4])]));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(2e-5);
}

describe('decoder-with-past export (the transformers.js peer layout)', () => {
  it('matches lowrank\'s float64 forward: whole prompt, then continued from present -> past, and left-padded', async () => {
    const { model, weights } = tinyModel();
    const session = await InferenceSession.create(exportDecoderWithPast(model, weights));
    expect(session.inputNames.slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    const ids = [3, 17, 9, 22, 5, 31, 8];
    const V = config.vocab_size;
    const ref = await referenceLogits(model, weights, ids);

    const whole = await session.run({ input_ids: i64([ids]), attention_mask: i64([ids.map(() => 1)]), position_ids: i64([ids.map((_, j) => j)]), ...emptyPast(session, 1) });
    expect(whole.logits.dims).toEqual([1, 7, V]);
    expectClose(whole.logits.data as Float32Array, ref);

    // Five tokens, then two more reading the first call's present.* as past_key_values.*.
    const first = await session.run({ input_ids: i64([ids.slice(0, 5)]), attention_mask: i64([[1, 1, 1, 1, 1]]), position_ids: i64([[0, 1, 2, 3, 4]]), ...emptyPast(session, 1) });
    expect(first['present.0.key'].dims).toEqual([1, 4, 5, 4]);
    const past = Object.fromEntries(Object.entries(first).filter(([n]) => n.startsWith('present')).map(([n, t]) => [n.replace('present', 'past_key_values'), t]));
    const next = await session.run({ input_ids: i64([ids.slice(5)]), attention_mask: i64([ids.map(() => 1)]), position_ids: i64([[5, 6]]), ...past });
    expect(next['present.1.value'].dims).toEqual([1, 4, 7, 4]);
    expectClose(next.logits.data as Float32Array, ref.subarray(5 * V));

    // Row 1 left-padded by 3 (mask 0, as transformers.js pads): its real tokens' logits equal the unpadded forward.
    const short = ids.slice(0, 4);
    const padded = await session.run({
      input_ids: i64([ids, [0, 0, 0, ...short]]),
      attention_mask: i64([ids.map(() => 1), [0, 0, 0, 1, 1, 1, 1]]),
      position_ids: i64([ids.map((_, j) => j), [1, 1, 1, 0, 1, 2, 3]]),
      ...emptyPast(session, 2),
    });
    const rows = padded.logits.data as Float32Array;
    expectClose(rows.subarray(0, 7 * V), ref);
    expectClose(rows.subarray((7 + 3) * V, 14 * V), await referenceLogits(model, weights, short));
  });
});
