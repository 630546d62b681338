import { Graph, ops } from '@lowrank/core';
import { encodeModel, lowerGraph, sessionOptions } from '@lowrank/onnx';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

/**
 * The fp32 MatMul rate of ONNX Runtime on this machine: a MatMul-only session
 * per shape, with lowrank's session settings and 2 threads, inputs and the
 * output tensor allocated once (so no host copies are timed); median of
 * `reps` runs after warm-up.
 */
export async function matmulRates(shapes: ReadonlyArray<readonly [number, number, number]>, reps: number): Promise<Array<{ shape: number[]; gflops: number }>> {
  const threads = Number(process.env.LOWRANK_THREADS ?? 2);
  const out: Array<{ shape: number[]; gflops: number }> = [];
  for (const [m, k, n] of shapes) {
    const g = new Graph();
    g.output('c', ops.matmul(g.input('a', [m, k]), g.input('b', [k, n])));
    const lowered = lowerGraph(g, { inputParams: () => true, backend: 'bench-matmul', graphName: 'matmul' });
    const session = await InferenceSession.create(encodeModel(lowered.model), sessionOptions({ executionProviders: ['cpu'], threads }));
    const fill = (len: number) => Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const feeds = { [lowered.inputs[0]]: new OrtTensor('float32', fill(m * k), [m, k]), [lowered.inputs[1]]: new OrtTensor('float32', fill(k * n), [k, n]) };
    const outputName = lowered.outputs.get('c')!;
    const fetches = { [outputName]: new OrtTensor('float32', new Float32Array(m * n), [m, n]) };
    const run = () => session.run(feeds, fetches);
    for (let i = 0; i < 5; i++) await run();
    const samples: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      await run();
      samples.push(performance.now() - t);
    }
    await session.release();
    samples.sort((a, b) => a - b);
    out.push({ shape: [m, k, n], gflops: (2 * m * k * n) / samples[Math.floor(samples.length / 2)] / 1e6 });
  }
  return out;
}
