import { describe, expect, it } from 'vitest';
import { Graph, ops, Trainer, type BatchStream, type HostTensor, type TrainBatch } from '@lowrank/core';
import { createWebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

// The 500-step run of bench/reliability/long-run.ts on a smaller model: tfjs tensor count and RSS stay flat, and dispose releases every tensor and buffer.
const V = 64, D = 32, R = 4, SEQ = 16, BATCH = 4, STEPS = 500, WARMUP = 50;

function build({ training }: { training: boolean }) {
  const g = new Graph();
  const ids = g.input('input_ids', [BATCH, SEQ], 'i32');
  const labels = g.input('labels', [BATCH, SEQ], 'i32');
  const emb = g.param('embed.weight', [V, D]);
  const w = g.param('proj.weight', [D, D]);
  const a = g.param('proj.lora_A.weight', [R, D], { trainable: true });
  const b = g.param('proj.lora_B.weight', [D, R], { trainable: true });
  const h = ops.gather(emb, ids);
  const x = training ? g.scope('proj', () => ops.dropout(h, 0.1)) : h;
  const y = ops.tanh(ops.add(ops.matmul(h, w, { transB: true }), ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true })));
  return { graph: g, loss: ops.crossEntropy(ops.matmul(y, emb, { transB: true }), labels) };
}

const tensor = (shape: number[], f: (i: number) => number): HostTensor => ({ shape, dtype: 'f32', data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => f(i)) });

/** RSS outside the V8 heap: garbage not yet collected (no gc() in a test worker) does not count, native leaks do. */
function nativeRss(): number {
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
}

class Batches implements BatchStream {
  private k = 0;
  next(): TrainBatch {
    const k = this.k++ % 16;
    const ids = Int32Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7 + k * 3) % V);
    return { feeds: { input_ids: { shape: [BATCH, SEQ], dtype: 'i32', data: ids }, labels: { shape: [BATCH, SEQ], dtype: 'i32', data: ids.map((v) => (v + 1) % V) } }, tokens: BATCH * SEQ };
  }
  position() {
    return this.k;
  }
  seek(p: unknown) {
    this.k = Number(p);
  }
}

describe.skipIf(SKIP_GPU)('long run on backend-webgpu', () => {
  it(`${STEPS} steps: median RSS outside the JS heap grows < 64 MiB after warm-up, tfjs tensor count does not grow, dispose releases them`, async () => {
    const backend = await createWebGpuBackend();
    const before = backend.memoryStats().liveTensors ?? 0;
    const t = await Trainer.create({
      backend,
      build,
      parameters: { 'embed.weight': tensor([V, D], (i) => Math.sin(i) * 0.5), 'proj.weight': tensor([D, D], (i) => Math.cos(i) * 0.2), 'proj.lora_A.weight': tensor([R, D], (i) => Math.cos(i * 3) * 0.2), 'proj.lora_B.weight': tensor([D, R], () => 0) },
      optimizer: { kind: 'adamw', lr: 0.01 },
      steps: STEPS,
      seed: 1,
      data: new Batches(),
    });
    let rssAtWarmup = 0;
    const samples: number[] = [];
    let liveAtWarmup = 0;
    let first = NaN;
    let last = NaN;
    for (let s = 1; s <= STEPS; s++) {
      const m = await t.trainStep();
      if (s === 1) first = m.loss;
      last = m.loss;
      if (s === WARMUP) liveAtWarmup = backend.memoryStats().liveTensors ?? 0;
      if (s >= WARMUP && s % 10 === 0) samples.push(nativeRss());
    }
    // RSS swings by tens of MiB around a level here (Dawn/lavapipe staging buffers): compare medians, not single readings.
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    rssAtWarmup = median(samples.slice(0, quarter));
    const growthMiB = (median(samples.slice(-quarter)) - rssAtWarmup) / 2 ** 20;
    console.log(`long run: ${STEPS} steps, RSS growth after warm-up ${growthMiB.toFixed(1)} MiB, loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    expect(last).toBeLessThan(first);
    expect(growthMiB).toBeLessThan(64);
    expect(backend.memoryStats().liveTensors ?? 0).toBe(liveAtWarmup);
    t.dispose();
    expect(backend.memoryStats().liveTensors ?? 0).toBe(before);
    backend.dispose();
  }, 120_000);
});
