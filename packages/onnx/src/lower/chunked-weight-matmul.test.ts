import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { grad, Graph, ops, type HostTensor } from '@lowrank/core';
import { encodeModel } from '../model/encode-model.js';
import { sessionOptions } from '../runtime/session-options.js';
import type { BlockElements } from './chunked-weight-matmul.js';
import { lowerGraph, type LoweredGraph } from './lower-graph.js';

/*
 * Large frozen weights upcast (bf16) or dequantized (4-bit) for one matmul are
 * made one block of output columns at a time. The results must equal an
 * independent float64 product of the whole weight, forward (x·Wᵀ) and backward
 * (dY·W), with blocks that do not divide the weight evenly.
 */

// W is 2,432 x 1,024 (2.49M elements); blocks of 2^20 elements: x·Wᵀ in 3 blocks of rows (1,024 + 1,024 + 384),
// dY·W in 3 blocks of columns (431 + 431 + 162 for bf16; 384 + 384 + 256 for 4-bit, whole quantization blocks).
const N = 2432;
const K = 1024;
const BLOCKS: BlockElements = { upcast: 1 << 20, dequant: 1 << 20 };

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const f32 = (shape: number[], rnd: () => number, scale: number): HostTensor => ({
  shape,
  dtype: 'f32',
  data: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => (rnd() * 2 - 1) * scale),
});

/** bf16 bits of random values, and the float64 values they stand for. */
function bf16Weight(rnd: () => number): { bits: Uint16Array; values: Float64Array } {
  const bits = new Uint16Array(N * K);
  const values = new Float64Array(N * K);
  const view = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < bits.length; i++) {
    view.setFloat32(0, (rnd() * 2 - 1) * 0.05);
    bits[i] = view.getUint32(0) >>> 16;
    view.setUint32(0, bits[i] << 16);
    values[i] = view.getFloat32(0);
  }
  return { bits, values };
}

/** Random 4-bit codes and absmax, and the float64 weight they dequantize to (float32 products, as the op rounds). */
function nf4Weight(rnd: () => number): { codes: Uint8Array; absmax: Float32Array; values: Float64Array } {
  const table = ops.codebookValues('nf4');
  const codes = Uint8Array.from({ length: (N * K) / 2 }, () => Math.floor(rnd() * 256));
  const absmax = Float32Array.from({ length: (N * K) / 64 }, () => 0.01 + rnd() * 0.05);
  const values = new Float64Array(N * K);
  for (let i = 0; i < values.length; i++) {
    const byte = codes[i >> 1];
    values[i] = Math.fround(Math.fround(table[i % 2 === 0 ? byte >> 4 : byte & 15]) * absmax[Math.floor(i / 64)]);
  }
  return { codes, absmax, values };
}

/** loss = Σ c ⊙ (x·Wᵀ) in float64, with dL/dx = c·W. */
function reference(x: HostTensor, c: HostTensor, w: Float64Array, rows: number): { loss: number; gx: Float64Array } {
  let loss = 0;
  const gx = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let dot = 0;
      for (let k = 0; k < K; k++) dot += x.data[r * K + k] * w[n * K + k];
      const cn = c.data[r * N + n];
      loss += cn * dot;
      for (let k = 0; k < K; k++) gx[r * K + k] += cn * w[n * K + k];
    }
  }
  return { loss, gx };
}

const maxRelError = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
};

/** Lowers with small weight blocks and runs the model in an ORT session with lowrank's session options. */
async function run(g: Graph, params: Record<string, HostTensor>, c: HostTensor): Promise<{ lowered: LoweredGraph; loss: number; gx: Float32Array }> {
  const lowered = lowerGraph(g, { paramValues: (name) => params[name], weightBlockElements: BLOCKS });
  const session = await InferenceSession.create(encodeModel(lowered.model), sessionOptions({ executionProviders: ['cpu'], threads: 2 }));
  try {
    const feeds: Record<string, Tensor> = {};
    for (const name of lowered.inputs) {
      const t = name === 'c' ? c : params[name];
      feeds[name] = t.dtype === 'u8' ? new Tensor('uint8', t.data as Uint8Array, [...t.shape]) : new Tensor('float32', t.data as Float32Array, [...t.shape]);
    }
    const out = await session.run(feeds);
    return { lowered, loss: (out[lowered.outputs.get('loss')!].data as Float32Array)[0], gx: out[lowered.outputs.get('gx')!].data as Float32Array };
  } finally {
    await session.release();
  }
}

const matmulCount = (l: LoweredGraph) => l.model.graph.nodes.filter((n) => n.opType === 'MatMul' || n.opType === 'FusedMatMul').length;

describe('large frozen weights are made block by block inside their matmul', () => {
  it('bf16 base: x·Wᵀ forward and dY·W backward equal the float64 product of the whole weight', async () => {
    const rnd = lcg(7);
    const rows = 6;
    const { bits, values } = bf16Weight(rnd);
    const x = f32([rows, K], rnd, 1);
    const c = f32([rows, N], rnd, 1);
    const g = new Graph();
    const xp = g.param('x', [rows, K], { trainable: true });
    const w = g.param('w', [N, K], { dtype: 'bf16' });
    const cp = g.input('c', [rows, N], 'f32');
    // Each product reads its own upcast, as in a training graph (core remakes frozen values for the backward).
    g.output('loss', ops.sum(ops.mul(ops.matmul(xp, ops.cast(w, 'f32'), { transB: true }), cp)));
    g.output('gx', ops.matmul(cp, ops.cast(w, 'f32')));
    // Lowered: several matmuls read blocks of the weight (forward and backward), none reads it whole.
    const params: Record<string, HostTensor> = { x, w: { shape: [N, K], dtype: 'bf16', data: bits } };
    const got = await run(g, params, c);
    // 3 blocks forward and 3 backward, none reads the whole weight.
    expect(matmulCount(got.lowered)).toBe(6);
    expect(got.lowered.model.graph.nodes.some((n) => n.opType === 'Cast' && n.inputs[0] === 'w')).toBe(false);
    const want = reference(x, c, values, rows);
    expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(1e-5);
    expect(maxRelError(got.gx, want.gx)).toBeLessThan(1e-5);
  });

  it('4-bit base: the backward dY·W dequantizes one block of columns at a time and equals float64', async () => {
    const rnd = lcg(11);
    const rows = 4;
    const { codes, absmax, values } = nf4Weight(rnd);
    const x = f32([rows, K], rnd, 1);
    const c = f32([rows, N], rnd, 1);
    const g = new Graph();
    const xp = g.param('x', [rows, K], { trainable: true });
    const cp = g.param('codes', [(N * K) / 2], { dtype: 'u8' });
    const ap = g.param('absmax', [(N * K) / 64]);
    const wc = g.input('c', [rows, N], 'f32');
    const loss = ops.sum(ops.mul(ops.matmulNf4(xp, cp, ap, { shape: [N, K] }), wc));
    g.output('loss', loss);
    g.output('gx', grad(loss, [xp])[0]);
    const params: Record<string, HostTensor> = { x, codes: { shape: [(N * K) / 2], dtype: 'u8', data: codes }, absmax: { shape: [(N * K) / 64], dtype: 'f32', data: absmax } };
    const got = await run(g, params, c);
    // The backward's 3 column blocks each look their codes up in the 256-pair table (the forward is MatMulBnb4).
    expect(got.lowered.model.graph.nodes.filter((n) => n.opType === 'Gather').length).toBe(3);
    expect(matmulCount(got.lowered)).toBe(3);
    const want = reference(x, c, values, rows);
    expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss)).toBeLessThan(1e-5);
    expect(maxRelError(got.gx, want.gx)).toBeLessThan(1e-5);
  });
});
