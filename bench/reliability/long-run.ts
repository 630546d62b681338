// Long-run memory stability: N optimizer steps of a small LoRA language model through the Trainer,
// sampling RSS (and the backend's live tensor count) after warm-up. Also checks that dispose()
// releases sessions/buffers: the live tensor count returns to its pre-trainer value.
//
//   node --conditions=source --import tsx bench/reliability/long-run.ts --backend cpu --steps 2000
//   node --conditions=source --import tsx bench/reliability/long-run.ts --backend webgpu --steps 500
import { Graph, ops, Trainer, type Backend, type BatchStream, type HostTensor, type JsonValue, type TrainBatch } from '@lowrank/core';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const backendName = arg('backend', 'cpu');
const steps = Number(arg('steps', '2000'));
const warmup = Number(arg('warmup', String(Math.max(50, Math.floor(steps / 10)))));
const V = 256, D = 64, R = 8, SEQ = 32, BATCH = 4, LAYERS = 2;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
}

function build({ training }: { training: boolean }) {
  const g = new Graph();
  const ids = g.input('input_ids', [BATCH, SEQ], 'i32');
  const labels = g.input('labels', [BATCH, SEQ], 'i32');
  const emb = g.param('embed.weight', [V, D]);
  let h = ops.gather(emb, ids);
  for (let l = 0; l < LAYERS; l++) {
    const w = g.param(`l${l}.weight`, [D, D]);
    const a = g.param(`l${l}.lora_A.weight`, [R, D], { trainable: true });
    const b = g.param(`l${l}.lora_B.weight`, [D, R], { trainable: true });
    const x = training ? g.scope(`l${l}`, () => ops.dropout(h, 0.1)) : h;
    const lora = ops.mul(ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }), 2);
    h = ops.add(h, ops.tanh(ops.add(ops.matmul(h, w, { transB: true }), lora)));
  }
  return { graph: g, loss: ops.crossEntropy(ops.matmul(h, emb, { transB: true }), labels) };
}

function params(): Record<string, HostTensor> {
  const r = lcg(1);
  const t = (shape: number[], scale: number): HostTensor => ({ shape, dtype: 'f32', data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * scale) });
  const out: Record<string, HostTensor> = { 'embed.weight': t([V, D], 0.2) };
  for (let l = 0; l < LAYERS; l++) {
    out[`l${l}.weight`] = t([D, D], 0.2);
    out[`l${l}.lora_A.weight`] = t([R, D], 0.2);
    out[`l${l}.lora_B.weight`] = { shape: [D, R], dtype: 'f32', data: new Float32Array(D * R) };
  }
  return out;
}

class Stream implements BatchStream {
  private at = 0;
  next(): TrainBatch {
    const r = lcg(1000 + (this.at++ % 64));
    const ids = Int32Array.from({ length: BATCH * SEQ }, () => Math.floor((r() + 0.5) * V));
    const labels = Int32Array.from(ids, (_, i) => ((i + 1) % SEQ === 0 ? -100 : ids[i + 1]));
    return { feeds: { input_ids: { shape: [BATCH, SEQ], dtype: 'i32', data: ids }, labels: { shape: [BATCH, SEQ], dtype: 'i32', data: labels } }, tokens: BATCH * (SEQ - 1) };
  }
  position(): JsonValue { return this.at; }
  seek(p: JsonValue): void { this.at = Number(p); }
}

async function makeBackend(): Promise<Backend> {
  if (backendName === 'cpu') return (await import('@lowrank/backend-cpu')).createCpuBackend();
  if (backendName === 'webgpu') return (await import('@lowrank/backend-webgpu')).createWebGpuBackend();
  throw new Error(`--backend cpu|webgpu, got ${backendName}`);
}

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const backend = await makeBackend();
const tensorsBefore = backend.memoryStats().liveTensors;
const trainer = await Trainer.create({ backend, build, parameters: params(), optimizer: { kind: 'adamw', lr: 1e-3 }, steps, seed: 3, data: new Stream() });
const samples: { step: number; rss: number; tensors?: number }[] = [];
let firstLoss = NaN, lastLoss = NaN, skipped = 0;
const t0 = performance.now();
for (let s = 1; s <= steps; s++) {
  const m = await trainer.trainStep();
  if (s === 1) firstLoss = m.loss;
  lastLoss = m.loss;
  if (m.skipped) skipped++;
  if (s === warmup || s % Math.max(1, Math.floor(steps / 20)) === 0 || s === steps) {
    if (typeof global.gc === 'function') global.gc();
    samples.push({ step: s, rss: process.memoryUsage().rss, tensors: backend.memoryStats().liveTensors });
  }
}
const seconds = (performance.now() - t0) / 1000;
trainer.dispose();
const tensorsAfterDispose = backend.memoryStats().liveTensors;
const after = samples.filter((x) => x.step >= warmup);
const rssGrowth = after.at(-1)!.rss - after[0].rss;
const rssMax = Math.max(...after.map((x) => x.rss)) - after[0].rss;
const tensorGrowth = after[0].tensors !== undefined ? after.at(-1)!.tensors! - after[0].tensors : undefined;
const report = {
  backend: backendName, steps, warmup, seconds: Math.round(seconds), stepsPerSecond: Math.round((steps / seconds) * 10) / 10,
  loss: { first: firstLoss, last: lastLoss }, skipped,
  rssMiBAtWarmup: mb(after[0].rss), rssMiBEnd: mb(after.at(-1)!.rss), rssGrowthMiB: mb(rssGrowth), rssMaxAboveWarmupMiB: mb(rssMax),
  liveTensorsAtWarmup: after[0].tensors, liveTensorsEnd: after.at(-1)!.tensors, tensorGrowth,
  liveTensorsBeforeTrainer: tensorsBefore, liveTensorsAfterDispose: tensorsAfterDispose,
  samples: samples.map((x) => ({ step: x.step, rssMiB: mb(x.rss), tensors: x.tensors })),
};
console.log(JSON.stringify(report, null, 1));
const bound = Number(arg('rss-bound-mib', '64'));
const ok = rssGrowth / 2 ** 20 < bound && (tensorGrowth === undefined || tensorGrowth <= 0) && (tensorsAfterDispose === undefined || tensorsBefore === undefined || tensorsAfterDispose <= tensorsBefore);
console.log(ok ? `PASS: RSS grew ${mb(rssGrowth)} MiB (< ${bound}) after warm-up; live tensors flat; dispose released them` : 'FAIL: memory grew past the bound');
backend.dispose();
process.exit(ok ? 0 : 1);
