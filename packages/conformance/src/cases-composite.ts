// Cases for every composite op (a backend may fuse them or run their expansion).
import { emit, ops, type Tensor } from '@lowrank/core';
import { f32, i32, u8, values, type OpCase } from './case.js';

export const compositeCases: OpCase[] = [
  {
    op: 'dropout',
    label: 'p 0.3 keyed by (seed, step, key)',
    inputs: [f32([4, 6]), i32([], values.int(0, 1000)), i32([], values.int(0, 50))],
    build: ([x, seed, step]) => emit('dropout', [x, seed, step], { p: 0.3, key: 77 }),
  },
  { op: 'gelu', label: 'erf form', inputs: [f32([3, 4], values.uniform(-4, 4))], build: ([x]) => ops.gelu(x) },
  { op: 'gelu', label: 'tanh form', inputs: [f32([3, 4], values.uniform(-4, 4))], build: ([x]) => ops.gelu(x, 'tanh') },
  { op: 'silu', label: '[2,1,5]', inputs: [f32([2, 1, 5], values.uniform(-4, 4))], build: ([x]) => ops.silu(x) },
  {
    op: 'layerNorm',
    label: '[3,6]',
    inputs: [f32([3, 6], values.distinct(0.1)), f32([6]), f32([6])],
    build: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
  },
  {
    op: 'layerNorm',
    label: '[2,2,4]',
    inputs: [f32([2, 2, 4], values.distinct(0.1)), f32([4]), f32([4])],
    build: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
  },
  { op: 'rmsNorm', label: '[3,6]', inputs: [f32([3, 6], values.awayFromZero()), f32([6])], build: ([x, w]) => ops.rmsNorm(x, w, 1e-6) },
  { op: 'rmsNorm', label: '[2,1,4]', inputs: [f32([2, 1, 4], values.awayFromZero()), f32([4])], build: ([x, w]) => ops.rmsNorm(x, w, 1e-6) },
  {
    op: 'rope',
    label: 'heads [2,2,3,4], tables [3,4]',
    inputs: [f32([2, 2, 3, 4]), f32([3, 4]), f32([3, 4])],
    build: ([x, c, s]) => ops.rope(x, c, s),
  },
  {
    op: 'attention',
    label: 'cross, no mask',
    inputs: [f32([2, 3, 4]), f32([2, 5, 4]), f32([2, 5, 3])],
    build: ([q, k, v]) => ops.attention(q, k, v),
  },
  {
    op: 'attention',
    label: 'causal self-attention with heads',
    inputs: [f32([1, 2, 4, 4]), f32([1, 2, 4, 4]), f32([1, 2, 4, 4])],
    build: ([q, k, v]) => ops.attention(q, k, v, { causal: true }),
  },
  {
    op: 'attention',
    label: 'causal, fewer queries than keys (KV cache), additive mask',
    inputs: [f32([2, 2, 4]), f32([2, 5, 4]), f32([2, 5, 4]), f32([2, 5], values.uniform(-1, 0))],
    build: ([q, k, v, m]) => ops.attention(q, k, v, { causal: true, mask: m }),
  },
  {
    op: 'attention',
    label: 'batch-broadcast keys, explicit scale',
    inputs: [f32([2, 3, 4]), f32([1, 3, 4]), f32([1, 3, 2])],
    build: ([q, k, v]) => ops.attention(q, k, v, { scale: 0.3 }),
  },
  {
    op: 'crossEntropy',
    label: 'ignore index -100',
    inputs: [f32([2, 4, 6], values.uniform(-3, 3)), i32([2, 4], values.labels(6))],
    build: ([logits, y]) => ops.crossEntropy(logits, y),
  },
  {
    op: 'crossEntropy',
    label: 'flat tokens',
    inputs: [f32([5, 3], values.uniform(-3, 3)), i32([5], values.int(0, 2))],
    build: ([logits, y]) => ops.crossEntropy(logits, y),
  },
  {
    op: 'linearLogSumExp',
    label: 'hidden [5,4] · weight [7,4]ᵀ in blocks of 2 tokens (last block short)',
    inputs: [f32([5, 4]), f32([7, 4])],
    build: ([h, w]) => ops.linearLogSumExp(h, w, { chunk: 2 }),
  },
  {
    op: 'linearLogSumExp',
    label: 'softcap 1.5, one block',
    inputs: [f32([3, 4]), f32([6, 4])],
    build: ([h, w]) => ops.linearLogSumExp(h, w, { chunk: 8, softcap: 1.5 }),
  },
  ...['nf4', 'fp4'].map((codebook) => ({
    op: 'matmulNf4',
    label: `${codebook}: x [2,3,32] · dequant(W [4,32])ᵀ in blocks of 16`,
    inputs: [f32([2, 3, 32]), u8([64]), f32([8], values.uniform(0.1, 2))],
    build: ([x, codes, absmax]: Tensor[]) => ops.matmulNf4(x, codes, absmax, { shape: [4, 32], blockSize: 16, codebook }),
  })),
  {
    op: 'dequantizeDynamic8',
    label: '300 codes in blocks of 256',
    inputs: [u8([300]), f32([2], values.uniform(0.1, 2)), f32([], values.uniform(-0.5, 0.5))],
    build: ([codes, scale, offset]) => ops.dequantizeDynamic8(codes, scale, offset),
  },
  {
    op: 'dequantizeDynamic8',
    label: '512 codes in whole blocks of 256',
    inputs: [u8([512]), f32([2], values.uniform(0.1, 2)), f32([], values.uniform(-0.5, 0.5))],
    build: ([codes, scale, offset]) => ops.dequantizeDynamic8(codes, scale, offset),
  },
];
