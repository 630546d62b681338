import { NDArray, evaluate } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { createPreset, traceLanguageModel } from '../src/index.js';
import { randomWeights } from './hf-reference.js';

describe('causal LM loss', () => {
  it('is the mean cross-entropy of logits at t against labels at t+1, skipping -100 (as transformers shifts)', () => {
    const { model } = createPreset('llama-tiny');
    const weights = randomWeights(model.namedParams(), 3);
    const B = 2;
    const S = 5;
    const ids = Array.from({ length: B * S }, (_, i) => (i * 13 + 7) % 259);
    const labels = [...ids];
    labels[2] = -100;
    labels[S + 4] = -100;
    const { graph } = traceLanguageModel(model, { batch: B, seqLen: S, withLoss: true });
    const feeds: Record<string, NDArray> = { input_ids: NDArray.from([B, S], ids, 'i32'), labels: NDArray.from([B, S], labels, 'i32') };
    for (const [n, t] of weights) feeds[n] = NDArray.fromHost(t.shape, 'f32', t.data);
    const res = evaluate(graph, feeds, ['logits', 'loss']);
    const logits = res.get('logits')!.data;
    const V = 259;
    let total = 0;
    let count = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S - 1; t++) {
        const target = labels[b * S + t + 1];
        if (target === -100) continue;
        const row = Array.from(logits.subarray((b * S + t) * V, (b * S + t + 1) * V));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
        total += lse - row[target];
        count++;
      }
    }
    expect(count).toBe(6);
    expect(res.get('loss')!.data[0]).toBeCloseTo(total / count, 10);
  });
});
