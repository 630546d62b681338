// Training-step time and peak GPU bytes of the WebGPU backend on a small
// LoRA model. Run: pnpm --filter @lowrank/backend-webgpu run bench
import * as tf from '@tensorflow/tfjs-core';
import { buildTrainGraph, gradTrainable, optimizerScalars, planCheckpointPolicy, type HostTensor, type OptimizerConfig } from '@lowrank/core';
import { createWebGpuBackend } from '../src/index.js';
import { buildTinyModel, tinyBatch, tinyModelParams, type TinyModelConfig } from '../src/test-support/tiny-model.js';

const scalar = (v: number, dtype: 'f32' | 'i32' = 'f32'): HostTensor => ({ shape: [], dtype, data: dtype === 'f32' ? Float32Array.of(v) : Int32Array.of(v) });

async function stepTime(config: TinyModelConfig, steps: number): Promise<{ msPerStep: number; tokensPerSecond: number }> {
  const backend = await createWebGpuBackend();
  const opt: OptimizerConfig = { kind: 'adamw', lr: 1e-3 };
  const model = buildTinyModel(config);
  const tg = buildTrainGraph(model.graph, model.loss, { optimizer: opt });
  const exe = await backend.compile(tg.graph, tg.signature);
  await exe.setParameters(tinyModelParams(tg.graph));
  const feeds = (s: number): Record<string, HostTensor> => {
    const f: Record<string, HostTensor> = { ...tinyBatch(config, s), 'rng.seed': scalar(1, 'i32'), 'rng.step': scalar(s, 'i32') };
    for (const [k, v] of Object.entries(optimizerScalars(opt, s, opt.lr))) f[k] = scalar(v);
    return f;
  };
  for (let s = 0; s < 3; s++) await exe.run(feeds(s));
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await exe.run(feeds(s));
  const ms = (performance.now() - t0) / steps;
  exe.dispose();
  return { msPerStep: ms, tokensPerSecond: (config.batch * config.seq * 1000) / ms };
}

async function peakBytes(config: TinyModelConfig, policy: 'none' | 'sqrt'): Promise<number> {
  const backend = await createWebGpuBackend();
  const m = buildTinyModel(config);
  m.graph.output('loss', m.loss);
  for (const [n, t] of gradTrainable(m.loss)) m.graph.output(`grad:${n}`, t);
  const graph = planCheckpointPolicy(m.graph, policy).graph;
  const exe = await backend.compile(graph);
  await exe.setParameters(tinyModelParams(graph));
  await exe.run(tinyBatch(config, 1));
  const resident = backend.memoryStats().currentBytes;
  backend.resetPeakMemory();
  await exe.run(tinyBatch(config, 1));
  const peak = backend.memoryStats().peakBytes - resident;
  exe.dispose();
  return peak;
}

const small: TinyModelConfig = { blocks: 4, dim: 64, rank: 8, vocab: 128, batch: 4, seq: 32, dropout: 0.1 };
const t = await stepTime(small, 20);
console.log(`AdamW train step, ${JSON.stringify(small)}: ${t.msPerStep.toFixed(1)} ms/step, ${t.tokensPerSecond.toFixed(0)} tokens/s`);
// Memory: submit every kernel so released buffers leave tfjs's counter at once.
tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1);
const dense: TinyModelConfig = { blocks: 16, dim: 64, rank: 4, vocab: 64, batch: 4, seq: 64, lora: false };
const lora: TinyModelConfig = { ...dense, lora: true };
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
const [dn, ds] = [await peakBytes(dense, 'none'), await peakBytes(dense, 'sqrt')];
console.log(`peak bytes above resident (tf.memory().numBytesInGPU), 16 dense blocks, core remat: none ${dn}, sqrt ${ds} (${pct(ds, dn)})`);
const [ln, ls] = [await peakBytes(lora, 'none'), await peakBytes(lora, 'sqrt')];
console.log(`peak bytes above resident, 16 LoRA blocks (frozen weights), core remat: none ${ln}, sqrt ${ls} (${pct(ls, ln)})`);
process.exit(0);
