import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Graph, ops } from '@lowrank/core';
import { KERNELS, type Kernel } from './compile/primitive-kernels.js';
import { createWebGpuBackend, WebGpuDeviceError, type WebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

describe.skipIf(SKIP_GPU)('device errors', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  it('a kernel whose shader fails to compile fails the run instead of returning zeros, and parameters stay', async () => {
    const g = new Graph();
    const w = g.param('w', [10, 12, 20], { dtype: 'i32' });
    const next = ops.add(w, ops.transpose(ops.transpose(w, [2, 0, 1]), [1, 2, 0]));
    g.output('next', next);
    const exe = await backend.compile(g, { outputs: ['next'], updates: { w: 'next' } });
    const values = Int32Array.from({ length: 2400 }, (_, i) => i);
    await exe.setParameters({ w: { shape: [10, 12, 20], dtype: 'i32', data: values } });
    // A real fault: tfjs 4.22's own int32 3-D transpose shader does not compile (our kernel avoids it).
    const kernels = KERNELS as Record<string, Kernel>;
    const ours = kernels.transpose;
    kernels.transpose = ([x], a) => tf.transpose(x, [...(a.perm as number[])]);
    try {
      const err = await exe.run({}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebGpuDeviceError);
      expect((err as Error).message).toMatch(/WGSL|invalid/i);
    } finally {
      kernels.transpose = ours;
    }
    expect(Array.from((await exe.getParameters(['w'])).w.data)).toEqual(Array.from(values));
    // With our kernel the same graph runs, and the update applies.
    const ok = await exe.run({});
    expect(Array.from(ok.next.data).slice(0, 3)).toEqual([0, 2, 4]);
    exe.dispose();
  });
});
