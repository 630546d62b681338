import { beforeAll, describe, expect, it } from 'vitest';
import { listOps, ops, type Tensor } from '@lowrank/core';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';
import { KERNELS } from './compile/primitive-kernels.js';
import { checkOpCase, type OpCase } from './test-support/op-case.js';
import { SKIP_GPU } from './test-support/gpu.js';

const f = (shape: number[], range?: [number, number]) => ({ shape, range });
const pos = (shape: number[]) => f(shape, [0.4, 3]);
const i32 = (shape: number[], range: [number, number] = [-50, 50]) => ({ shape, dtype: 'i32' as const, range });
const u8 = (shape: number[]) => ({ shape, dtype: 'u8' as const, range: [0, 256] as [number, number] });
const bool = (shape: number[]) => ({ shape, dtype: 'bool' as const });
const BIG = 2_000_000_000;

const unary = (op: string, domain = f) =>
  ({ label: op, inputs: [domain([2, 1, 3])], build: ([x]: Tensor[]) => ops.sum(emitUnary(op, x), [1]) }) satisfies OpCase;
const emitUnary = (op: string, x: Tensor): Tensor => (ops as unknown as Record<string, (t: Tensor) => Tensor>)[op](x);

/** Every primitive, forward and VJP, against the float64 reference (f32 tolerance rtol 1e-4, atol 1e-5). */
const cases: OpCase[] = [
  ...['neg', 'exp', 'tanh', 'sigmoid', 'sin', 'cos', 'erf'].map((op) => unary(op)),
  ...['log', 'sqrt', 'rsqrt'].map((op) => unary(op, pos)),
  unary('relu', (s) => f(s, [0.1, 2])),
  { label: 'relu negative side', inputs: [f([5], [-2, -0.1])], build: ([x]) => ops.relu(x) },
  ...[2, 3, -1, -0.5, 1.5].map((e) => ({ label: `pow ${e}`, inputs: [pos([2, 3])], build: ([x]: Tensor[]) => ops.pow(x, e) })),
  { label: 'pow 3 of negatives', inputs: [f([4], [-2, -0.5])], build: ([x]) => ops.pow(x, 3) },
  ...(['add', 'sub', 'mul', 'maximum', 'minimum'] as const).map((op) => ({
    label: `${op} broadcast`,
    inputs: [f([2, 1, 3]), f([4, 1])],
    build: ([a, b]: Tensor[]) => ops[op](a, b),
  })),
  { label: 'div broadcast', inputs: [f([2, 3]), f([3], [0.5, 2])], build: ([a, b]) => ops.div(a, b) },
  { label: 'div scalar', inputs: [f([2, 3]), f([], [0.5, 2])], build: ([a, b]) => ops.div(a, b) },
  // Integers: exact, wrapping like Math.imul, division truncating toward zero.
  ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).map((op) => ({
    label: `${op} i32 large values`,
    inputs: [i32([2, 3], [-BIG, BIG]), i32([3], [-BIG / 1000, BIG / 1000])],
    build: ([a, b]: Tensor[]) => ops[op](a, b),
    exact: true,
  })),
  { label: 'div i32 negative truncates', inputs: [{ shape: [4], dtype: 'i32', values: [-7, 7, -7, 7] }, { shape: [4], dtype: 'i32', values: [2, -2, -2, 2] }], build: ([a, b]) => ops.div(a, b), exact: true },
  ...(['add', 'sub', 'mul'] as const).map((op) => ({ label: `${op} u8 wraps`, inputs: [u8([6]), u8([6])], build: ([a, b]: Tensor[]) => ops[op](a, b), exact: true })),
  ...(['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'] as const).flatMap((op) => [
    { label: `${op} f32`, inputs: [f([2, 3], [-1, 1]), { shape: [3], values: [0, 0.5, -0.25] }], build: ([a, b]: Tensor[]) => ops[op](ops.mul(ops.cast(ops.cast(ops.mul(a, 4), 'i32'), 'f32'), 0.25), b), exact: true },
    { label: `${op} i32`, inputs: [i32([2, 3], [-3, 3]), i32([3], [-3, 3])], build: ([a, b]: Tensor[]) => ops[op](a, b), exact: true },
  ]),
  { label: 'logicalAnd', inputs: [bool([2, 3]), bool([3])], build: ([a, b]) => ops.logicalAnd(a, b), exact: true },
  { label: 'logicalOr', inputs: [bool([2, 3]), bool([2, 1])], build: ([a, b]) => ops.logicalOr(a, b), exact: true },
  { label: 'where broadcast', inputs: [bool([2, 1]), f([2, 3]), f([3])], build: ([c, a, b]) => ops.where(c, a, b) },
  { label: 'where i32', inputs: [bool([4]), i32([4]), i32([4])], build: ([c, a, b]) => ops.where(c, a, b), exact: true },
  // i32 data past 2^24 moved by copy kernels stays exact (tfjs's own copies go through f32).
  { label: 'where i32 large values', inputs: [bool([2, 3]), i32([2, 3], [-BIG, BIG]), i32([3], [-BIG, BIG])], build: ([c, a, b]) => ops.where(c, a, b), exact: true },
  { label: 'transpose i32 large values', inputs: [i32([2, 3, 4], [-BIG, BIG])], build: ([x]) => ops.transpose(x, [2, 0, 1]), exact: true },
  { label: 'slice and pad i32 large values', inputs: [i32([4, 5], [-BIG, BIG])], build: ([x]) => ops.pad(ops.slice(x, [1, 0], [3, 4]), [1, 0], [0, 2]), exact: true },
  { label: 'concat and broadcastTo i32 large values', inputs: [i32([2, 1], [-BIG, BIG]), i32([2, 3], [-BIG, BIG])], build: ([a, b]) => ops.concat([ops.broadcastTo(a, [2, 2]), b], 1), exact: true },
  { label: 'gather i32 table large values', inputs: [i32([5, 3], [-BIG, BIG]), i32([4], [0, 5])], build: ([t, i]) => ops.gather(t, i), exact: true },
  { label: 'cast f32 to i32 truncates', inputs: [f([8], [-5, 5])], build: ([x]) => ops.cast(x, 'i32'), exact: true },
  { label: 'cast f32 to u8 wraps', inputs: [f([8], [-300, 300])], build: ([x]) => ops.cast(x, 'u8'), exact: true },
  { label: 'cast f32 to bool', inputs: [{ shape: [4], values: [0, 1.5, -2, 0] }], build: ([x]) => ops.cast(x, 'bool'), exact: true },
  { label: 'cast i32 to f32', inputs: [i32([5])], build: ([x]) => ops.cast(x, 'f32'), exact: true },
  { label: 'cast bool to f32 and i32', inputs: [bool([5])], build: ([x]) => ops.add(ops.cast(x, 'f32'), ops.cast(ops.cast(x, 'i32'), 'f32')), exact: true },
  { label: 'cast f32 to f32 passes gradient', inputs: [f([3])], build: ([x]) => ops.mul(ops.cast(ops.exp(x), 'f32'), x) },
  { label: 'stopGradient', inputs: [f([3])], build: ([x]) => ops.mul(ops.stopGradient(ops.exp(x)), x) },
  { label: 'reduceSum axes [0,2]', inputs: [f([2, 3, 4])], build: ([x]) => ops.sum(x, [0, 2]) },
  { label: 'reduceSum keepdims', inputs: [f([2, 3, 4])], build: ([x]) => ops.sum(x, [1], true) },
  { label: 'reduceSum i32', inputs: [i32([3, 4])], build: ([x]) => ops.sum(x, [1]), exact: true },
  { label: 'reduceMean all', inputs: [f([2, 3, 4])], build: ([x]) => ops.mean(x) },
  { label: 'reduceMean axis -1 keepdims', inputs: [f([2, 3, 4])], build: ([x]) => ops.mean(x, [-1], true) },
  { label: 'reduceMax axis 1', inputs: [f([2, 5, 3])], build: ([x]) => ops.max(x, [1]) },
  { label: 'softmax last axis', inputs: [f([3, 7], [-4, 4])], build: ([x]) => ops.softmax(x) },
  { label: 'softmax wide rows', inputs: [f([2, 300], [-6, 6])], build: ([x]) => ops.softmax(x) },
  // More rows than one dispatch dimension holds (65535 workgroups): tfjs folds the dispatch.
  { label: 'softmax 70000 rows', inputs: [f([70000, 3])], build: ([x]) => ops.softmax(x), vjp: false },
  { label: 'crossEntropy 70000 rows', inputs: [f([70000, 3]), i32([70000], [0, 3])], build: ([l, y]) => ops.crossEntropy(l, y), vjp: false },
  { label: 'softmax axis 0', inputs: [f([4, 3])], build: ([x]) => ops.softmax(x, 0) },
  { label: 'logSoftmax', inputs: [f([2, 3, 5], [-4, 4])], build: ([x]) => ops.logSoftmax(x) },
  { label: 'reshape', inputs: [f([2, 3, 2])], build: ([x]) => ops.mul(ops.reshape(x, [3, 4]), ops.constant(x.graph, [1, 2, 3, 4], [4])) },
  { label: 'transpose [2,0,1]', inputs: [f([2, 3, 2])], build: ([x]) => ops.transpose(x, [2, 0, 1]) },
  { label: 'slice', inputs: [f([4, 5])], build: ([x]) => ops.slice(x, [1, 0], [3, 4]) },
  { label: 'pad', inputs: [f([2, 3])], build: ([x]) => ops.pad(x, [1, 0], [0, 2]) },
  { label: 'concat axis -1', inputs: [f([2, 1]), f([2, 3]), f([2, 2])], build: (xs) => ops.concat(xs, -1) },
  { label: 'broadcastTo', inputs: [f([3, 1])], build: ([x]) => ops.broadcastTo(x, [2, 3, 4]) },
  { label: 'gather rows with repeats', inputs: [f([5, 3]), i32([2, 3], [0, 5])], build: ([t, i]) => ops.gather(t, i) },
  { label: 'gather axis 1', inputs: [f([2, 4, 2]), i32([3], [0, 4])], build: ([t, i]) => ops.gather(t, i, 1) },
  { label: 'scatterAdd rows with repeats', inputs: [f([4, 3]), { shape: [4], dtype: 'i32', values: [1, 3, 1, 0] }], build: ([u, i]) => ops.scatterAdd(u, i, 0, 5) },
  { label: 'scatterAdd i32 rows', inputs: [i32([4, 3]), { shape: [4], dtype: 'i32', values: [1, 3, 1, 0] }], build: ([u, i]) => ops.scatterAdd(u, i, 0, 5), exact: true },
  { label: 'scatterAdd i32 axis 1', inputs: [i32([2, 3, 2]), { shape: [3], dtype: 'i32', values: [2, 0, 2] }], build: ([u, i]) => ops.scatterAdd(u, i, 1, 4), exact: true },
  { label: 'scatterAdd axis 1', inputs: [f([2, 3, 2]), { shape: [3], dtype: 'i32', values: [2, 0, 2] }], build: ([u, i]) => ops.scatterAdd(u, i, 1, 4) },
  ...(
    [
      [[3, 4], [4, 2], false, false],
      [[4, 3], [4, 2], true, false],
      [[3, 4], [2, 4], false, true],
      [[4, 3], [2, 4], true, true],
      [[2, 1, 2, 3], [3, 3, 2], false, false],
      [[2, 2, 3], [3, 2], false, false],
      [[2, 3, 2], [2, 3], true, true],
    ] as const
  ).map(([a, b, transA, transB]) => ({
    label: `matmul [${a}]${transA ? 'T' : ''} x [${b}]${transB ? 'T' : ''}`,
    inputs: [f([...a]), f([...b])],
    build: ([x, y]: Tensor[]) => ops.matmul(x, y, { transA, transB }),
  })),
  { label: 'randomUniform bit-identical', inputs: [], build: (_xs, g) => ops.randomUniform(g, [3, 50], 0xdeadbeef), exact: true },
  {
    label: 'nf4Dequantize',
    inputs: [u8([64]), f([2], [0.1, 3])],
    build: ([c, a]) => ops.nf4Dequantize(c, a, { shape: [4, 32], blockSize: 64 }),
  },
  {
    label: 'fp4 dequantize',
    inputs: [u8([32]), f([4], [0.1, 3])],
    build: ([c, a]) => ops.nf4Dequantize(c, a, { shape: [4, 16], blockSize: 16, codebook: 'fp4' }),
  },
  // Composites: crossEntropy runs fused; the others through their expansion.
  { label: 'crossEntropy (fused) with ignored labels', inputs: [f([2, 3, 11], [-3, 3]), { shape: [2, 3], dtype: 'i32', values: [1, -100, 10, 0, 5, -100] }], build: ([l, y]) => ops.crossEntropy(l, y) },
  { label: 'crossEntropy all ignored', inputs: [f([2, 4]), { shape: [2], dtype: 'i32', values: [-100, -100] }], build: ([l, y]) => ops.crossEntropy(l, y) },
  { label: 'layerNorm', inputs: [f([2, 3, 4]), f([4]), f([4])], build: ([x, w, b]) => ops.layerNorm(x, w, b) },
  { label: 'rmsNorm', inputs: [f([2, 3, 4]), f([4])], build: ([x, w]) => ops.rmsNorm(x, w) },
  { label: 'gelu erf', inputs: [f([2, 4], [-3, 3])], build: ([x]) => ops.gelu(x) },
  { label: 'gelu tanh', inputs: [f([2, 4], [-3, 3])], build: ([x]) => ops.gelu(x, 'tanh') },
  { label: 'silu', inputs: [f([2, 4], [-3, 3])], build: ([x]) => ops.silu(x) },
  { label: 'causal attention', inputs: [f([2, 3, 4]), f([2, 5, 4]), f([2, 5, 3])], build: ([q, k, v]) => ops.attention(q, k, v, { causal: true }) },
  {
    label: 'rope',
    inputs: [f([2, 3, 4]), i32([3], [0, 16])],
    build: ([x, p]) => {
      const t = ops.ropeTables(p, 4, 10000);
      return ops.rope(x, t.cos, t.sin);
    },
  },
  { label: 'dropout p=0.3', inputs: [f([4, 8])], build: ([x]) => ops.dropout(x, 0.3) },
];

describe.skipIf(SKIP_GPU)('webgpu ops against the float64 reference', () => {
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await createWebGpuBackend();
  });

  it('has a kernel for every core primitive', () => {
    const missing = listOps('primitive').map((d) => d.name).filter((n) => !KERNELS[n]);
    expect(missing).toEqual([]);
    expect([...backend.capabilities.ops].sort()).toEqual(listOps('primitive').map((d) => d.name).sort());
  });

  for (const c of cases) {
    it(c.label, async () => {
      await checkOpCase(backend, c);
    });
  }
});
