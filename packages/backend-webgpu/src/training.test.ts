import { beforeAll, describe, expect, it } from 'vitest';
import { NDArray, buildTrainGraph, createReferenceBackend, optimizerScalars, planCheckpointPolicy, type CheckpointPolicy, type HostTensor, type OptimizerConfig } from '@lowrank/core';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { expectClose } from './test-support/compare.js';
import { SKIP_GPU } from './test-support/gpu.js';
import { buildTinyModel, tinyBatch, tinyModelParams, type TinyModelConfig } from './test-support/tiny-model.js';

const scalar = (v: number, dtype: 'f32' | 'i32' = 'f32'): HostTensor => ({ shape: [], dtype, data: dtype === 'f32' ? Float32Array.of(v) : Int32Array.of(v) });

function stepFeeds(config: TinyModelConfig, opt: OptimizerConfig, step: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = { ...tinyBatch(config, 100 + (step % 4)), 'rng.seed': scalar(1234, 'i32'), 'rng.step': scalar(step, 'i32') };
  for (const [k, v] of Object.entries(optimizerScalars(opt, step, opt.lr))) feeds[k] = scalar(v);
  return feeds;
}

async function trainSteps(
  backend: { compile: WebGpuBackend['compile'] } | ReturnType<typeof createReferenceBackend>,
  config: TinyModelConfig,
  opt: OptimizerConfig,
  steps: number,
  policy: CheckpointPolicy = 'none',
) {
  const model = buildTinyModel(config);
  const tg = buildTrainGraph(model.graph, model.loss, { optimizer: opt });
  const roots = [...(tg.signature.outputs ?? []), ...Object.values(tg.signature.updates ?? {})];
  const { graph } = planCheckpointPolicy(tg.graph, policy, roots);
  const exe = await backend.compile(graph, tg.signature);
  await exe.setParameters(tinyModelParams(graph));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push(Number((await exe.run(stepFeeds(config, opt, s))).loss.data[0]));
  const params = await exe.getParameters(tg.trainable);
  const recomputedOps = exe.report.recomputedOps as number;
  exe.dispose();
  return { losses, params, recomputedOps };
}

describe.skipIf(SKIP_GPU)('training steps on webgpu', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  it('matches the float64 reference step by step (SGD, dropout, fused cross-entropy)', async () => {
    const config: TinyModelConfig = { blocks: 2, dim: 16, rank: 4, vocab: 20, batch: 2, seq: 8, dropout: 0.1 };
    const opt: OptimizerConfig = { kind: 'sgd', lr: 0.5 };
    const gpu = await trainSteps(backend, config, opt, 4);
    const ref = await trainSteps(createReferenceBackend(), config, opt, 4);
    // Tolerance: f32 kernels against float64, accumulated over 4 steps.
    gpu.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]), `loss ${i}: ${l} vs ${ref.losses[i]}`).toBeLessThan(2e-5 * Math.max(1, ref.losses[i])));
    expect(ref.losses[3]).toBeLessThan(ref.losses[0]);
    for (const [name, t] of Object.entries(ref.params)) {
      expectClose(gpu.params[name], NDArray.fromHost(t.shape, t.dtype, t.data), name, 1e-3, 1e-5);
    }
  });

  it('gives the same losses and parameters with sqrt checkpointing as without (recomputed dropout masks match)', async () => {
    const config: TinyModelConfig = { blocks: 4, dim: 16, rank: 4, vocab: 20, batch: 2, seq: 8, dropout: 0.2 };
    const opt: OptimizerConfig = { kind: 'adamw', lr: 1e-2 };
    const none = await trainSteps(backend, config, opt, 3, 'none');
    const sqrt = await trainSteps(backend, config, opt, 3, 'sqrt');
    expect(sqrt.recomputedOps).toBeGreaterThan(0);
    expect(sqrt.losses).toEqual(none.losses);
    for (const [name, t] of Object.entries(none.params)) expect(Array.from(sqrt.params[name].data), name).toEqual(Array.from(t.data));
  });

  it('keeps the tensor count steady over 200 AdamW steps (no leaks)', async () => {
    const config: TinyModelConfig = { blocks: 2, dim: 16, rank: 4, vocab: 20, batch: 2, seq: 8, dropout: 0.1 };
    const opt: OptimizerConfig = { kind: 'adamw', lr: 1e-2 };
    const model = buildTinyModel(config);
    const tg = buildTrainGraph(model.graph, model.loss, { optimizer: opt });
    const exe = await backend.compile(tg.graph, tg.signature);
    await exe.setParameters(tinyModelParams(tg.graph));
    const counts: number[] = [];
    const losses: number[] = [];
    for (let s = 0; s < 200; s++) {
      losses.push(Number((await exe.run(stepFeeds(config, opt, s))).loss.data[0]));
      counts.push(backend.memoryStats().liveTensors!);
    }
    console.log(`[backend-webgpu] live tfjs tensors after steps 1, 100, 200: ${counts[0]}, ${counts[99]}, ${counts[199]}; loss ${losses[0].toFixed(4)} -> ${losses[199].toFixed(4)}`);
    expect(new Set(counts).size).toBe(1);
    // Parameters, optimizer state and constants are all that stays.
    expect(counts[0]).toBeLessThanOrEqual(tg.graph.params.size + exe.report.steps);
    expect(losses[199]).toBeLessThan(losses[0]);
    exe.dispose();
    expect(backend.memoryStats().liveTensors).toBeLessThan(counts[0]);
  });
});
