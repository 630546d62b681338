import { beforeAll, describe, expect, it } from 'vitest';
import { Trainer, createReferenceBackend, type Backend, type BatchStream, type CheckpointPolicy, type StepMetrics, type TrainBatch } from '@lowrank/core';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';
import { buildTinyModel, tinyBatch, tinyModelParams, type TinyModelConfig } from './test-support/tiny-model.js';

const CONFIG: TinyModelConfig = { blocks: 4, dim: 16, rank: 4, vocab: 20, batch: 2, seq: 8, dropout: 0.1 };

/** Cycles through 4 fixed batches; the position is the batch counter. */
function stream(): BatchStream {
  let i = 0;
  return {
    next(): TrainBatch {
      const b = tinyBatch(CONFIG, 200 + (i++ % 4));
      return { feeds: b, tokens: Array.from(b.labels.data).filter((l) => l !== -100).length };
    },
    position: () => i,
    seek: (p) => {
      i = Number(p);
    },
  };
}

async function train(backend: Backend, checkpointing: CheckpointPolicy, steps: number): Promise<StepMetrics[]> {
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => buildTinyModel(training ? CONFIG : { ...CONFIG, dropout: 0 }),
    parameters: tinyModelParams(buildTinyModel(CONFIG).graph),
    optimizer: { kind: 'adamw', lr: 2e-2 },
    steps,
    seed: 11,
    data: stream(),
    checkpointing,
  });
  const metrics: StepMetrics[] = [];
  for (let s = 0; s < steps; s++) metrics.push(await trainer.trainStep());
  trainer.dispose();
  return metrics;
}

describe.skipIf(SKIP_GPU)("core's Trainer on the webgpu backend", () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  it('trains with sqrt checkpointing, reports planned and measured memory, and follows the reference', async () => {
    const gpu = await train(backend, 'sqrt', 12);
    const ref = await train(createReferenceBackend(), 'sqrt', 12);
    expect(gpu[11].loss).toBeLessThan(0.8 * gpu[0].loss);
    gpu.forEach((m, i) => expect(Math.abs(m.loss - ref[i].loss), `step ${i + 1}`).toBeLessThan(1e-3 * ref[i].loss));
    expect(gpu[0].plannedPeakBytes).toBeGreaterThan(0);
    expect(gpu[11].measuredPeakBytes).toBeGreaterThan(0);
  });
});
