// Acceptance: LoRA on the q, k and v projections of the cross-attention of a
// real encoder-decoder (queries from the decoder, keys and values from the
// encoder) trains on backend-cpu and its gradients pass the reference check.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { evaluate, gradTrainable, NDArray, Trainer, type BatchStream, type HostTensor, type JsonValue, type TrainBatch } from '@lowrank/core';
import { applyAdapters, initialAdapterState, setAdapterTraining } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { worstRelativeL2 } from '../../test/gradient-error.js';

const SRC = 6;
const TGT = 6;
const BATCH = 8;
const TARGETS = 'model\\.decoder\\.layers\\.\\d+\\.cross_attn\\.(q_proj|k_proj|v_proj)';

/**
 * Task: the encoder reads one letter repeated; the decoder, fed a fixed token,
 * must name that letter at every position: only the cross-attention path carries it.
 */
function batchOf(seed: number, batch = BATCH): TrainBatch {
  let s = seed >>> 0;
  const letters = Array.from({ length: batch }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 97 + (s % 26);
  });
  const src = letters.flatMap((c) => Array.from({ length: SRC }, () => c));
  // The loss shifts by one: the label at t ≥ 1 is predicted from decoder position t - 1.
  const labels = letters.flatMap((c) => Array.from({ length: TGT }, (_, t) => (t === 0 ? -100 : c)));
  return {
    feeds: {
      input_ids: { shape: [batch, TGT], dtype: 'i32', data: new Int32Array(batch * TGT) },
      encoder_ids: { shape: [batch, SRC], dtype: 'i32', data: Int32Array.from(src) },
      labels: { shape: [batch, TGT], dtype: 'i32', data: Int32Array.from(labels) },
    },
    tokens: batch * (TGT - 1),
  };
}

function setup(seed: number) {
  const { model, weights } = createPreset('seq2seq-tiny', { seed });
  const applied = applyAdapters(model, { r: 4, lora_alpha: 8, target_modules: TARGETS, init_lora_weights: false });
  const adapter = initialAdapterState(model, weights, { seed: 1 });
  const all = new Map<string, HostTensor>([...(weights as Map<string, HostTensor>), ...adapter]);
  return { model, applied, all };
}

describe('LoRA on cross-attention q, k, v of seq2seq-tiny', () => {
  it('adapts exactly the decoder cross-attention q, k and v projections', () => {
    const { applied } = setup(1);
    expect(applied.layers).toEqual([0, 1].flatMap((l) => ['q_proj', 'k_proj', 'v_proj'].map((p) => `model.decoder.layers.${l}.cross_attn.${p}`)));
  });

  it('gradients: reference (float64) vs finite differences, and backend-cpu vs reference', async () => {
    const { model, all } = setup(2);
    setAdapterTraining(model, false);
    const { graph, loss } = traceLanguageModel(model, { batch: 2, seqLen: TGT, encoderLen: SRC, withLoss: true });
    const grads = gradTrainable(loss!);
    expect(grads.size).toBe(12);
    for (const [n, t] of grads) graph.output(`grad:${n}`, t);
    // Distinct encoder tokens: with one repeated letter the keys would be equal and k_proj's gradient exactly zero.
    const batch = batchOf(5, 2);
    batch.feeds.encoder_ids.data.set([104, 101, 108, 108, 111, 33, 119, 111, 114, 108, 100, 63]);
    const feeds: Record<string, NDArray> = {};
    for (const name of graph.params.keys()) feeds[name] = NDArray.fromHost(all.get(name)!.shape, all.get(name)!.dtype, all.get(name)!.data);
    for (const [k, t] of Object.entries(batch.feeds)) feeds[k] = NDArray.fromHost(t.shape, t.dtype, t.data);
    const ref = evaluate(graph, feeds);
    const lossAt = (name: string, i: number, d: number) => {
      const data = feeds[name].data.slice();
      data[i] += d;
      return evaluate(graph, { ...feeds, [name]: new NDArray(feeds[name].shape, 'f32', data) }, ['loss']).get('loss')!.data[0];
    };
    let worstFd = 0;
    for (const name of grads.keys()) {
      const g = ref.get(`grad:${name}`)!.data;
      // The largest-gradient entry of each tensor (the reference check covers all entries on the backend below).
      for (const i of [g.reduce((best, v, k) => (Math.abs(v) > Math.abs(g[best]) ? k : best), 0)]) {
        const h = 1e-3;
        const d1 = (lossAt(name, i, h) - lossAt(name, i, -h)) / (2 * h);
        const d2 = (lossAt(name, i, h / 2) - lossAt(name, i, -h / 2)) / h;
        const numeric = (4 * d2 - d1) / 3;
        worstFd = Math.max(worstFd, Math.abs(numeric - g[i]) / Math.max(Math.abs(g[i]), 1e-4));
      }
    }
    expect(worstFd).toBeLessThan(1e-5);

    const backend = createCpuBackend({ threads: 2 });
    try {
      const outputs = [...grads.keys()].map((n) => `grad:${n}`);
      const exe = await backend.compile(graph, { outputs });
      const params: Record<string, HostTensor> = {};
      for (const name of graph.params.keys()) params[name] = all.get(name)!;
      await exe.setParameters(params);
      const got = await exe.run(batch.feeds);
      exe.dispose();
      const worst = worstRelativeL2(got, ref, outputs);
      console.log(`cross-attention LoRA: finite differences vs reference ${worstFd.toExponential(2)}, backend-cpu vs reference ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      backend.dispose();
    }
  });

  it('trains on backend-cpu: the held-out loss of the letter task falls with only the cross-attention adapters trainable', async () => {
    const { model, all } = setup(3);
    const backend = createCpuBackend({ threads: 2 });
    try {
      let n = 0;
      const data: BatchStream = { next: () => batchOf(1000 + n++), position: (): JsonValue => n, seek: (p: JsonValue) => void (n = Number(p)) };
      const trainer = await Trainer.create({
        backend,
        build: ({ training }) => {
          setAdapterTraining(model, training);
          const t = traceLanguageModel(model, { batch: BATCH, seqLen: TGT, encoderLen: SRC, withLoss: true });
          return { graph: t.graph, loss: t.loss! };
        },
        parameters: Object.fromEntries(all),
        optimizer: { kind: 'adamw', lr: 1e-2 },
        steps: 80,
        data,
      });
      const heldOut = [batchOf(7), batchOf(8)];
      const before = (await trainer.evaluate(heldOut)).loss;
      await trainer.run();
      const after = (await trainer.evaluate(heldOut)).loss;
      console.log(`cross-attention LoRA on the letter task: held-out loss ${before.toFixed(3)} -> ${after.toFixed(3)} after 80 steps`);
      expect(after).toBeLessThan(before - 0.5);
    } finally {
      backend.dispose();
    }
  });
});
