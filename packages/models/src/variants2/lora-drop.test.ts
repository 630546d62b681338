// Acceptance (issue 9): LoRA-drop layer selection on the synthetic task. A short
// warm-up on a sampled fraction of the data, per-layer importance Σ||ΔW_i x_i||²
// measured on the backend, layers kept up to a cumulative threshold, the rest
// sharing one LoRA per shape; at least 30% fewer adapter parameters for a held-out
// loss within the stated margin of full LoRA.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { Trainer, type HostTensor } from '@lowrank/core';
import { applyAdapters, expandSharedAdapter, initialAdapterState, initialSharedState, loraDropParameters, measureLayerImportance, selectLayers, setAdapterTraining, shareDroppedLayers, type LoraConfig } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { BATCH, heldOutLogits, HELD_OUT, maxAbsDiff, SEQ, taskStream } from './task.test-support.js';

const CONFIG: LoraConfig = { r: 4, lora_alpha: 4, target_modules: 'all-linear', lora_dropout: 0 };
const STEPS = 200;
const WARMUP_STEPS = 20;
/** The sampled fraction: 4 batches of 16 sequences, cycled during the warm-up. */
const SAMPLE_BATCHES = 4;
const THRESHOLD = 0.85;
/** Stated margin: held-out loss within 0.1 nats of full LoRA after the same steps. */
const MARGIN = 0.1;

function setup() {
  const preset = createPreset('llama-tiny', { seed: 5 });
  return { model: preset.model, base: new Map(preset.weights as Map<string, HostTensor>) };
}

async function trainer(model: ReturnType<typeof setup>['model'], parameters: Record<string, HostTensor>, steps: number, pool = 0) {
  const backend = createCpuBackend({ threads: 2 });
  const t = await Trainer.create({
    backend,
    build: ({ training }) => {
      setAdapterTraining(model, training);
      const tr = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ, withLoss: true });
      return { graph: tr.graph, loss: tr.loss! };
    },
    parameters,
    optimizer: { kind: 'adamw', lr: 5e-3 },
    steps,
    seed: 0,
    data: taskStream(3, pool),
  });
  await t.run();
  return { t, backend };
}

describe('LoRA-drop layer selection on llama-tiny + backend-cpu', () => {
  it(`keeps the layers holding ${THRESHOLD * 100}% of the measured importance, shares the rest, saves ≥30% of adapter parameters`, async () => {
    // 1. Warm-up on the sample.
    const warm = setup();
    applyAdapters(warm.model, CONFIG);
    const w = await trainer(warm.model, Object.fromEntries([...warm.base, ...initialAdapterState(warm.model, warm.base, { seed: 1 })]), WARMUP_STEPS, SAMPLE_BATCHES);
    const warmed = await w.t.trainableValues();
    const sample = taskStream(3, SAMPLE_BATCHES);
    const sampleFeeds = Array.from({ length: SAMPLE_BATCHES }, () => ({ input_ids: sample.next().feeds.input_ids }));
    setAdapterTraining(warm.model, false);
    const importance = await measureLayerImportance({
      backend: w.backend,
      model: warm.model,
      trace: () => traceLanguageModel(warm.model, { batch: BATCH, seqLen: SEQ }).graph,
      parameters: Object.fromEntries([...warm.base, ...Object.entries(warmed)]),
      batches: sampleFeeds,
    });
    w.t.dispose();
    const values = Object.values(importance);
    expect(values.every((v) => v > 0)).toBe(true);
    // Not a constant: the measurement separates layers.
    expect(Math.max(...values) / Math.min(...values)).toBeGreaterThan(2);
    const selection = selectLayers(importance, THRESHOLD);
    console.log(`LoRA-drop importance (normalized): ${Object.entries(selection.normalized).map(([k, v]) => `${k.replace('model.layers.', 'L')}=${v.toFixed(3)}`).join(' ')}`);
    console.log(`kept ${selection.kept.length}/${values.length} layers (cumulative ${selection.cumulative.toFixed(3)}), dropped: ${selection.dropped.join(', ')}`);
    expect(selection.cumulative).toBeGreaterThanOrEqual(THRESHOLD);
    expect(selection.kept.length).toBeLessThan(values.length);

    // 2. Train with the selection, from fresh adapters.
    const drop = setup();
    applyAdapters(drop.model, CONFIG);
    shareDroppedLayers(drop.model, selection.dropped);
    const report = loraDropParameters(drop.model, selection.dropped);
    const d = await trainer(drop.model, Object.fromEntries([...drop.base, ...initialAdapterState(drop.model, drop.base, { seed: 1 }), ...initialSharedState(drop.model, selection.dropped, 1)]), STEPS);
    const trainedDrop = await d.t.trainableValues();
    const trainableCount = Object.values(trainedDrop).reduce((s, t) => s + t.data.length, 0);
    expect(trainableCount).toBe(report.used);
    const dropLoss = (await d.t.evaluate(HELD_OUT)).loss;

    // 3. Full LoRA, same steps.
    const full = setup();
    applyAdapters(full.model, CONFIG);
    const f = await trainer(full.model, Object.fromEntries([...full.base, ...initialAdapterState(full.model, full.base, { seed: 1 })]), STEPS);
    const fullLoss = (await f.t.evaluate(HELD_OUT)).loss;
    console.log(
      `LoRA-drop: adapter parameters ${report.used} vs ${report.full} (${(report.saved * 100).toFixed(1)}% fewer); held-out loss ${dropLoss.toFixed(4)} vs full LoRA ${fullLoss.toFixed(4)} (margin ${MARGIN})`,
    );
    expect(report.saved).toBeGreaterThanOrEqual(0.3);
    expect(dropLoss - fullLoss).toBeLessThan(MARGIN);

    // 4. Expanded to a plain per-layer LoRA adapter: the same logits.
    setAdapterTraining(drop.model, false);
    const sharedLogits = await heldOutLogits(d.backend, drop.model, new Map([...drop.base, ...Object.entries(trainedDrop)]));
    const plain = setup();
    applyAdapters(plain.model, CONFIG);
    setAdapterTraining(plain.model, false);
    const expanded = expandSharedAdapter(drop.model, trainedDrop, selection.dropped);
    const plainLogits = await heldOutLogits(d.backend, plain.model, new Map([...plain.base, ...Object.entries(expanded)]));
    expect(maxAbsDiff(sharedLogits, plainLogits)).toBeLessThan(1e-5);
    d.t.dispose();
    f.t.dispose();
  }, 120_000);
});
