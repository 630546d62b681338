import { describe, expect, it } from 'vitest';
import { Graph, LowrankError, ops } from '@lowrank/core';
import { createCudaBackend, CudaUnavailableError, isCudaProviderInstalled } from './index.js';

const installed = isCudaProviderInstalled();

describe('backend-cuda without the CUDA provider', () => {
  it.skipIf(installed)('creation throws a typed error that says how to install CUDA 12 support', () => {
    let err: unknown;
    try {
      createCudaBackend();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CudaUnavailableError);
    expect(err).toBeInstanceOf(LowrankError);
    expect(String(err)).toContain('--onnxruntime-node-install=cuda12');
    expect(String(err)).toContain('CUDA 12');
  });
});

if (!installed) {
  console.info(
    '[backend-cuda] GPU tests skipped: onnxruntime-node has no CUDA provider library here ' +
      '(installed with its build script disabled, and this machine has no NVIDIA GPU). They run where the provider is installed.',
  );
}

describe('backend-cuda on a GPU', () => {
  it.skipIf(!installed)('runs a small graph and matches float32 arithmetic', async () => {
    const backend = createCudaBackend();
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const w = g.param('w', [3, 2]);
    g.output('y', ops.relu(ops.matmul(x, w)));
    const exe = await backend.compile(g);
    await exe.setParameters({ w: { shape: [3, 2], dtype: 'f32', data: Float32Array.of(1, -1, 2, 0.5, -3, 1) } });
    const out = await exe.run({ x: { shape: [2, 3], dtype: 'f32', data: Float32Array.of(1, 2, 3, -1, 0, 1) } });
    // [1,2,3]·W = [1+4-9, -1+1+3] = [-4, 3]; [-1,0,1]·W = [-1-3, 1+1] = [-4, 2]
    expect(Array.from(out.y.data)).toEqual([0, 3, 0, 2]);
    backend.dispose();
  });
});
