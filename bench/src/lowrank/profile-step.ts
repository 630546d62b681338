/**
 * Where the time of a lowrank training step goes: compiles the bench's LoRA
 * (or DoRA/QLoRA) step on backend-cpu, takes the ORT-optimized model it wrote,
 * and replays it in an ORT session with profiling on, then sums kernel time
 * per ONNX op type.
 *
 *   pnpm --filter @lowrank/bench profile [lora|dora|qlora] [--policy=sqrt] [--runs=3]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { buildTrainGraph, optimizerScalars, type HostTensor } from '@lowrank/core';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { BENCH_MODEL } from '../config.js';
import { loraStepFlops } from '../flops.js';
import { makeBenchBatch, makeBenchWeights } from '../weights.js';
import { applyCheckpointPolicy } from './checkpoint-policy.js';
import { buildLlamaForward, type BenchVariant } from './llama-graph.js';
import { parameterValues } from './parameter-values.js';
import { BenchError } from '../errors.js';

const args = process.argv.slice(2);
const variant = (args.find((a) => !a.startsWith('--')) ?? 'lora') as BenchVariant;
const policy = args.find((a) => a.startsWith('--policy='))?.slice('--policy='.length) ?? 'none';
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3);

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

function toOrt(t: HostTensor): OrtTensor {
  const type = t.dtype === 'f32' ? 'float32' : t.dtype === 'i32' ? 'int32' : 'uint8';
  return new OrtTensor(type, t.data as Float32Array, [...t.shape]);
}

async function main(): Promise<void> {
  const c = BENCH_MODEL;
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-profile-'));
  try {
    const { graph, loss } = buildLlamaForward(c, { variant, doubleQuant: true, segments: true });
    const optimizer = { kind: 'adamw' as const, lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.adamEps, weightDecay: c.weightDecay };
    const tg = buildTrainGraph(graph, loss, { optimizer });
    applyCheckpointPolicy(tg.graph, policy);
    const tensors = new Map([...makeBenchWeights(c, 1), ...makeBenchBatch(c, 1)].map((t) => [t.name, t]));
    const { values } = parameterValues(c, tg.graph, tensors, { variant, doubleQuant: true });
    const modelPath = join(dir, 'optimized.onnx');
    const backend = createCpuBackend({ threads: 2, optimizedModelFilePath: modelPath });
    const exe = await backend.compile(tg.graph, { ...tg.signature, outputs: ['loss'] });
    await exe.setParameters(values);
    const scalars = Object.fromEntries(
      Object.entries(optimizerScalars(optimizer, 0, c.lr)).map(([k, v]) => [k, { shape: [], dtype: 'f32' as const, data: new Float32Array([v]) }]),
    );
    const ids = tensors.get('input_ids')!;
    const labels = tensors.get('labels')!;
    const batch: Record<string, HostTensor> = {
      input_ids: { shape: ids.shape, dtype: 'i32', data: ids.data },
      labels: { shape: labels.shape, dtype: 'i32', data: labels.data },
    };
    await exe.run({ ...batch, ...scalars });
    exe.dispose();
    backend.dispose();

    const session = await InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled', // already optimized by backend-cpu's settings
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: false,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    });
    const feeds: Record<string, OrtTensor> = {};
    for (const name of session.inputNames) {
      const v = batch[name] ?? scalars[name] ?? values[name];
      if (!v) throw new BenchError(`profile: no value for session input '${name}'`);
      feeds[name] = toOrt(v);
    }
    const times: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const t = performance.now();
      await session.run(feeds);
      if (i > 0) times.push(performance.now() - t);
    }
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'));
    if (!file) throw new BenchError('ORT wrote no profile file; is the profile prefix directory writable?');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    const perOp = new Map<string, { us: number; count: number }>();
    let total = 0;
    for (const e of kernels) {
      const op = e.args?.op_name ?? 'unknown';
      const s = perOp.get(op) ?? { us: 0, count: 0 };
      s.us += e.dur;
      s.count += 1;
      perOp.set(op, s);
      total += e.dur;
    }
    const stepMs = times.reduce((a, b) => a + b, 0) / times.length;
    const runsProfiled = runs + 1;
    console.log(`${variant} step [${policy}]: ${stepMs.toFixed(0)} ms mean of ${runs} (after 1 warm-up); ` +
      `model ${(loraStepFlops(c).total / 1e9).toFixed(1)} GFLOP → ${(loraStepFlops(c).total / stepMs / 1e6).toFixed(0)} GFLOP/s; ` +
      `kernel time ${(total / 1000 / runsProfiled).toFixed(0)} ms per run (${kernels.length / runsProfiled} kernels)`);
    console.log('| ONNX op | ms per step | share | kernels per step |');
    console.log('| --- | --- | --- | --- |');
    for (const [op, s] of [...perOp].sort((a, b) => b[1].us - a[1].us).slice(0, 20)) {
      console.log(`| ${op} | ${(s.us / 1000 / runsProfiled).toFixed(1)} | ${((100 * s.us) / total).toFixed(1)}% | ${s.count / runsProfiled} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
