// lowrank participant: `tsx lowrank-worker.ts`, driven by the harness protocol.
// init options: variant lora|dora|qlora, doubleQuant, policy (checkpoint policy name).
import { buildTrainGraph, optimizerScalars, type Executable, type HostTensor } from '@lowrank/core';
import { createCpuBackend } from '@lowrank/backend-cpu';
import type { BenchModelConfig } from '../config.js';
import { resetPeakRss, serve, timeSteps } from '../peers/protocol.js';
import { readSafetensors } from '../safetensors-file.js';
import { buildLlamaForward, type BenchVariant } from './llama-graph.js';
import { applyCheckpointPolicy } from './checkpoint-policy.js';
import { parameterValues } from './parameter-values.js';
import { matmulRates } from './matmul-ceiling.js';
import { buildPackagedForward, toHfLabels } from './packaged-model.js';
import { BenchError } from '../errors.js';

let exe: Executable | undefined;
let feeds: Record<string, HostTensor> = {};
let optimizerStep = 0;
let config: BenchModelConfig;

const scalar = (v: number): HostTensor => ({ shape: [], dtype: 'f32', data: new Float32Array([v]) });

async function runStep(outputs: readonly string[] = ['loss']): Promise<Record<string, number>> {
  if (!exe) throw new BenchError('send init before time: the participant has no model yet');
  const opt = { kind: 'adamw' as const, lr: config.lr, beta1: config.beta1, beta2: config.beta2, eps: config.adamEps, weightDecay: config.weightDecay };
  const scalars = Object.fromEntries(Object.entries(optimizerScalars(opt, optimizerStep, config.lr)).map(([k, v]) => [k, scalar(v)]));
  const out = await exe.run({ ...feeds, ...scalars });
  optimizerStep++;
  return Object.fromEntries(outputs.filter((o) => out[o]).map((o) => [o, out[o].data[0] as number]));
}

serve({
  async init(req) {
    const t0 = performance.now();
    config = req.config as BenchModelConfig;
    const variant = String(req.variant ?? 'lora') as BenchVariant;
    const doubleQuant = req.doubleQuant !== false;
    const policy = String(req.policy ?? 'none');
    // 'packages': the user's path through @lowrank/models and @lowrank/variants; default: the bench's own core graph.
    const viaPackages = req.build === 'packages';
    const { graph, loss } = viaPackages
      ? buildPackagedForward(config, variant === 'dora' ? 'dora' : 'lora')
      : buildLlamaForward(config, { variant, doubleQuant, segments: true });
    const optimizer = { kind: 'adamw' as const, lr: config.lr, beta1: config.beta1, beta2: config.beta2, eps: config.adamEps, weightDecay: config.weightDecay };
    const tg = buildTrainGraph(graph, loss, { optimizer });
    const planned = applyCheckpointPolicy(tg.graph, policy);
    const tensors = readSafetensors(String(req.weights));
    const { values, quantizedBits } = parameterValues(config, tg.graph, tensors, { variant, doubleQuant });
    const ids = tensors.get('input_ids')!;
    const labels = tensors.get('labels')!;
    feeds = {
      input_ids: { shape: ids.shape, dtype: 'i32', data: ids.data },
      labels: {
        shape: labels.shape,
        dtype: 'i32',
        data: viaPackages ? toHfLabels(labels.data as Int32Array, config.batchSize, config.seqLen) : labels.data,
      },
    };
    tensors.clear();
    const backend = createCpuBackend({ threads: Number(process.env.LOWRANK_THREADS ?? 2) });
    const tc = performance.now();
    exe = await backend.compile(tg.graph, { ...tg.signature, outputs: ['loss', 'grad_norm'] });
    await exe.setParameters(values);
    const compileMs = performance.now() - tc;
    (globalThis as { gc?: () => void }).gc?.();
    const rssBeforeFirstStepBytes = process.memoryUsage().rss;
    const tf = performance.now();
    const first = await runStep(['loss', 'grad_norm']);
    const firstStepMs = performance.now() - tf; // ORT may finish building the session lazily here
    const stepsInInit = Number(req.initSteps ?? 2);
    const second = stepsInInit > 1 ? await runStep() : undefined;
    const reply = {
      loss: first.loss,
      gradNorm: first.grad_norm,
      lossAfterStep: second?.loss,
      setupMs: performance.now() - t0,
      compileMs,
      firstStepMs,
      quantizedBits,
      planned,
      report: exe.report,
      rssBeforeFirstStepBytes,
      rssAfterInitBytes: process.memoryUsage().rss,
    };
    resetPeakRss();
    return reply;
  },
  async matmul(req) {
    return { rates: await matmulRates(req.shapes as Array<[number, number, number]>, Number(req.reps)) };
  },
  time(req) {
    return timeSteps(Number(req.steps), async () => (await runStep()).loss);
  },
});
