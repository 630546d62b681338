import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Graph, NDArray, evaluate, grad, ops, type HostTensor } from '@lowrank/core';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { expectClose, seededValues } from './test-support/compare.js';
import { SKIP_GPU } from './test-support/gpu.js';

const N = 8;
const K = 64;
const BYTES = (N * K) / 2;

const f32 = (shape: number[], seed: number, lo = -1, hi = 1): HostTensor => ({ shape, dtype: 'f32', data: Float32Array.from(seededValues(seed, shape.reduce((a, d) => a * d, 1), lo, hi)) });
const u8 = (n: number, seed: number): HostTensor => ({ shape: [n], dtype: 'u8', data: Uint8Array.from(seededValues(seed, n, 0, 256).map(Math.floor)) });
const nd = (t: HostTensor) => NDArray.fromHost(t.shape, t.dtype, t.data);

/** A QLoRA layer: y = x · dequant(W)ᵀ + x · Aᵀ · Bᵀ, W's absmax optionally double-quantized; loss Σ y². */
function qloraGraph(doubleQuant: boolean) {
  const g = new Graph();
  const x = g.input('x', [3, K]);
  const codes = g.param('w.codes', [BYTES], { dtype: 'u8' });
  let absmax;
  if (doubleQuant) {
    const c8 = g.param('w.absmax.codes', [N * K / 64], { dtype: 'u8' });
    absmax = ops.dequantizeDynamic8(c8, g.param('w.absmax.scale', [1]), g.param('w.absmax.offset', []));
  } else {
    absmax = g.param('w.absmax', [N * K / 64]);
  }
  const a = g.param('lora_A', [2, K], { trainable: true });
  const b = g.param('lora_B', [N, 2], { trainable: true });
  const y = ops.add(ops.matmulNf4(x, codes, absmax, { shape: [N, K] }), ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }));
  const loss = ops.sum(ops.mul(y, y));
  const [da, db] = grad(loss, [a, b]);
  g.output('loss', loss);
  g.output('dA', da);
  g.output('dB', db);
  return g;
}

describe.skipIf(SKIP_GPU)('QLoRA on webgpu: packed 4-bit base weights', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  for (const doubleQuant of [false, true]) {
    it(`loss and LoRA gradients match the reference${doubleQuant ? ' with double-quantized absmax' : ''}`, async () => {
      const g = qloraGraph(doubleQuant);
      const params: Record<string, HostTensor> = {
        'w.codes': u8(BYTES, 1),
        lora_A: f32([2, K], 2),
        lora_B: f32([N, 2], 3),
        ...(doubleQuant
          ? { 'w.absmax.codes': u8(N * K / 64, 4), 'w.absmax.scale': f32([1], 5, 0.5, 1), 'w.absmax.offset': { shape: [], dtype: 'f32', data: Float32Array.of(0.3) } }
          : { 'w.absmax': f32([N * K / 64], 6, 0.1, 2) }),
      };
      const x = f32([3, K], 7);
      const exe = await backend.compile(g);
      await exe.setParameters(params);
      const got = await exe.run({ x });
      const want = evaluate(g, Object.fromEntries([...Object.entries(params), ['x', x]].map(([k, v]) => [k, nd(v as HostTensor)])));
      for (const o of ['loss', 'dA', 'dB']) expectClose(got[o], want.get(o)!, o, 1e-4, 1e-4);
      exe.dispose();
    });
  }

  it('keeps resident u8 codes at one byte per value and returns them unchanged', async () => {
    const g = qloraGraph(false);
    const exe = await backend.compile(g);
    const codes = u8(BYTES, 9);
    const before = tf.memory().numBytes;
    await exe.setParameters({ 'w.codes': codes });
    expect(tf.memory().numBytes - before).toBe(BYTES);
    expect(Array.from((await exe.getParameters(['w.codes']))['w.codes'].data)).toEqual(Array.from(codes.data));
    exe.dispose();
  });
});
