import { beforeAll, describe, expect, it } from 'vitest';
import { Graph, ops, type HostTensor } from '@lowrank/core';
import { createWebGpuBackend, WebGpuKernelError, type WebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

const N = 256;
const BYTES = N * N * 4;

describe.skipIf(SKIP_GPU)('execution plan', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  it('disposes each intermediate right after its last use (a 40-op chain holds a few tensors, not 40)', async () => {
    const g = new Graph();
    let h = g.input('x', [N, N]);
    for (let i = 0; i < 40; i++) h = i % 2 === 0 ? ops.tanh(h) : ops.mul(h, 1.01);
    g.output('y', ops.sum(h));
    const exe = await backend.compile(g);
    const x: HostTensor = { shape: [N, N], dtype: 'f32', data: new Float32Array(N * N).fill(0.5) };
    await exe.run({ x });
    const before = backend.memoryStats();
    backend.resetPeakMemory();
    const out = await exe.run({ x });
    const after = backend.memoryStats();
    expect(Number(out.y.data[0])).toBeGreaterThan(0);
    // The input, the live value and the one being written, plus buffers whose release tfjs defers
    // until its command batch is submitted (15 dispatches): far below the 40 values of the chain.
    expect(after.peakBytes - before.currentBytes).toBeLessThan(20 * BYTES);
    expect(after.liveTensors).toBe(before.liveTensors);
    exe.dispose();
  });

  it('runs crossEntropy as one fused kernel instead of its expansion', async () => {
    const g = new Graph();
    const logits = g.input('logits', [4, 6, 50]);
    const labels = g.input('labels', [4, 6], 'i32');
    g.output('loss', ops.crossEntropy(logits, labels));
    const exe = await backend.compile(g);
    expect(exe.report.fusedComposites).toBe(1);
    expect(exe.report.expandedComposites).toBe(0);
    expect(exe.report.steps).toBe(1);
    exe.dispose();
  });

  it('keeps parameters resident: a parameter uploaded once serves many runs and updates replace it', async () => {
    const g = new Graph();
    const w = g.param('w', [3], { trainable: true });
    g.output('next', ops.add(w, 1));
    const exe = await backend.compile(g, { outputs: [], updates: { w: 'next' } });
    await exe.setParameters({ w: { shape: [3], dtype: 'f32', data: Float32Array.of(1, 2, 3) } });
    const tensors = backend.memoryStats().liveTensors;
    for (let i = 0; i < 5; i++) await exe.run({});
    expect(backend.memoryStats().liveTensors).toBe(tensors);
    expect(Array.from((await exe.getParameters(['w'])).w.data)).toEqual([6, 7, 8]);
    exe.dispose();
  });

  it('reports a failing kernel with its op, node and module, and frees the tensors of the run', async () => {
    // tfjs's WebGPU shaders handle rank <= 6; a rank-7 value makes the kernel throw.
    const g = new Graph();
    const shape = [2, 2, 2, 2, 2, 2, 40];
    const x = g.input('x', shape);
    g.output('y', g.scope('odd', () => ops.transpose(ops.exp(x), [6, 5, 4, 3, 2, 1, 0])));
    const exe = await backend.compile(g);
    const before = backend.memoryStats().liveTensors;
    const err = await exe.run({ x: { shape, dtype: 'f32', data: new Float32Array(2560) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGpuKernelError);
    expect((err as Error).message).toMatch(/kernel for '(exp|transpose)' \(node n\d+, module 'odd'/);
    expect(backend.memoryStats().liveTensors).toBe(before);
    exe.dispose();
  });
});
