// One or more gradient-check cases for every differentiable op in the registry.
// Inputs are drawn inside each op's smooth domain, so finite differences are valid.
import { emit, ops, type Tensor } from '../../src/index.js';
import { awayFromZero, bool, distinct, f32, grid, i32, ints, labels, u8, uniform, type GradCase } from './gradcheck.js';

const unaryShapes = [[], [5], [2, 1, 3]] as const;

function unaryCases(op: string, domain: (shape: readonly number[]) => ReturnType<typeof uniform>): GradCase[] {
  return unaryShapes.map((shape) => ({
    op,
    label: `[${shape.join(',')}]`,
    inputs: [f32(shape, domain(shape))],
    build: ([x]: Tensor[]) => emit(op, [x]),
  }));
}

/** Shape pairs covering equal shapes, broadcasting on both sides, size-1 axes and scalars. */
const binaryShapes: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 1, 3], [4, 1]],
  [[3], []],
  [[1, 3], [2, 1]],
];

function binaryCases(op: string, domains: (a: number[], b: number[]) => [ReturnType<typeof uniform>, ReturnType<typeof uniform>]): GradCase[] {
  return binaryShapes.map(([a, b]) => {
    const [da, db] = domains(a, b);
    return {
      op,
      label: `[${a.join(',')}] with [${b.join(',')}]`,
      inputs: [f32(a, da), f32(b, db)],
      build: ([x, y]: Tensor[]) => emit(op, [x, y]),
    };
  });
}

const any = (s: readonly number[]) => uniform(s);
const positive = (s: readonly number[]) => uniform(s, 0.4, 3);

export const primitiveGradCases: GradCase[] = [
  ...['neg', 'exp', 'tanh', 'sigmoid', 'sin', 'cos', 'erf'].flatMap((op) => unaryCases(op, any)),
  ...['log', 'sqrt', 'rsqrt'].flatMap((op) => unaryCases(op, positive)),
  ...unaryCases('relu', (s) => awayFromZero(s, 0.1, 2)),
  ...[2, 3, -0.5, 1.5].map((exponent) => ({
    op: 'pow',
    label: `exponent ${exponent}`,
    inputs: [f32([2, 3], positive([2, 3]))],
    build: ([x]: Tensor[]) => ops.pow(x, exponent),
  })),
  ...['add', 'sub', 'mul'].flatMap((op) => binaryCases(op, (a, b) => [any(a), any(b)])),
  ...binaryCases('div', (a, b) => [any(a), awayFromZero(b, 0.5, 2)]),
  ...['maximum', 'minimum'].flatMap((op) => binaryCases(op, (a, b) => [grid(a, 0), grid(b, 0.05)])),
  {
    op: 'where',
    label: 'broadcast condition and branches',
    inputs: [bool([2, 1]), f32([2, 3]), f32([3])],
    build: ([c, a, b]) => ops.where(c, a, b),
  },
  {
    op: 'cast',
    label: 'f32 to f32',
    inputs: [f32([4])],
    build: ([x]) => emit('cast', [x], { dtype: 'f32' }),
  },
  ...(
    [
      [[2, 3, 4], [1], true],
      [[2, 3, 4], [0, 2], false],
      [[5], [0], false],
      [[2, 3], [-1], true],
    ] as const
  ).flatMap(([shape, axes, keepdims]) =>
    (['reduceSum', 'reduceMean', 'reduceMax'] as const).map((op) => ({
      op,
      label: `[${shape.join(',')}] axes [${axes.join(',')}] keepdims=${keepdims}`,
      inputs: [f32(shape, op === 'reduceMax' ? distinct(shape) : any(shape))],
      build: ([x]: Tensor[]) => emit(op, [x], { axes: [...axes], keepdims }),
    })),
  ),
  ...(
    [
      [[3, 4], -1],
      [[3, 4], 0],
      [[2, 3, 2], 1],
    ] as const
  ).flatMap(([shape, axis]) =>
    ['softmax', 'logSoftmax'].map((op) => ({
      op,
      label: `[${shape.join(',')}] axis ${axis}`,
      inputs: [f32(shape)],
      build: ([x]: Tensor[]) => emit(op, [x], { axis }),
    })),
  ),
  { op: 'reshape', label: '[2,3,2] to [3,4]', inputs: [f32([2, 3, 2])], build: ([x]) => ops.reshape(x, [3, 4]) },
  { op: 'transpose', label: 'perm [2,0,1]', inputs: [f32([2, 3, 2])], build: ([x]) => ops.transpose(x, [2, 0, 1]) },
  { op: 'transpose', label: 'matrix', inputs: [f32([3, 4])], build: ([x]) => ops.transpose(x) },
  { op: 'slice', label: 'inner block', inputs: [f32([4, 5])], build: ([x]) => ops.slice(x, [1, 0], [3, 4]) },
  { op: 'slice', label: 'one axis of three', inputs: [f32([2, 3, 2])], build: ([x]) => ops.sliceAxis(x, 1, 1, 3) },
  { op: 'pad', label: 'both sides', inputs: [f32([2, 3])], build: ([x]) => ops.pad(x, [1, 0], [0, 2]) },
  { op: 'concat', label: 'axis 0, two inputs', inputs: [f32([2, 3]), f32([1, 3])], build: (xs) => ops.concat(xs, 0) },
  { op: 'concat', label: 'axis -1, three inputs', inputs: [f32([2, 1]), f32([2, 3]), f32([2, 2])], build: (xs) => ops.concat(xs, -1) },
  { op: 'broadcastTo', label: '[3,1] to [2,3,4]', inputs: [f32([3, 1])], build: ([x]) => ops.broadcastTo(x, [2, 3, 4]) },
  { op: 'broadcastTo', label: 'scalar to [2,2]', inputs: [f32([])], build: ([x]) => ops.broadcastTo(x, [2, 2]) },
  {
    op: 'gather',
    label: 'embedding rows with repeats',
    inputs: [f32([5, 3]), i32([2, 3], ints([2, 3], 0, 4))],
    build: ([t, i]) => ops.gather(t, i),
  },
  {
    op: 'gather',
    label: 'axis 1',
    inputs: [f32([2, 4, 2]), i32([3], ints([3], 0, 3))],
    build: ([t, i]) => ops.gather(t, i, 1),
  },
  {
    op: 'scatterAdd',
    label: 'axis 1',
    inputs: [f32([2, 3, 2]), i32([3], ints([3], 0, 3))],
    build: ([u, i]) => ops.scatterAdd(u, i, 1, 4),
  },
  {
    op: 'mul',
    label: 'one value in both slots, mul(x, x)',
    inputs: [f32([2, 3])],
    build: ([x]) => ops.mul(x, x),
  },
  {
    op: 'pow',
    label: 'integer exponent 3 on negative bases too',
    inputs: [f32([2, 3])],
    build: ([x]) => ops.pow(x, 3),
  },
  {
    op: 'scatterAdd',
    label: 'rows with repeats',
    inputs: [f32([4, 3]), i32([4], ints([4], 0, 4))],
    build: ([u, i]) => ops.scatterAdd(u, i, 0, 5),
  },
  ...(
    [
      [[3, 4], [4, 2], false, false],
      [[4, 3], [4, 2], true, false],
      [[3, 4], [2, 4], false, true],
      [[4, 3], [2, 4], true, true],
      [[2, 1, 2, 3], [3, 3, 2], false, false],
      [[2, 2, 3], [3, 2], false, false],
      [[1, 3], [3, 1], false, false],
      [[4, 3], [2, 4, 2], true, false],
      [[2, 2, 3], [1, 2, 3], false, true],
    ] as const
  ).map(([a, b, transA, transB]) => ({
    op: 'matmul',
    label: `[${a.join(',')}]${transA ? 'ᵀ' : ''} x [${b.join(',')}]${transB ? 'ᵀ' : ''}`,
    inputs: [f32(a), f32(b)],
    build: ([x, y]: Tensor[]) => ops.matmul(x, y, { transA, transB }),
  })),
  {
    op: 'nf4Dequantize',
    label: '[4,32] nf4 in blocks of 16 (gradient in absmax only)',
    inputs: [{ shape: [64], dtype: 'u8', values: ints([64], 0, 255) }, f32([8], awayFromZero([8]))],
    build: ([c, a]) => ops.nf4Dequantize(c, a, { shape: [4, 32], blockSize: 16 }),
  },
  ...['nf4', 'fp4'].map((codebook) => ({
    op: 'nf4Dequantize',
    label: `${codebook}, [4,6] in blocks of 8 (gradient for absmax)`,
    inputs: [u8([12]), f32([3], uniform([3], 0.1, 2))],
    build: ([codes, absmax]: Tensor[]) => ops.nf4Dequantize(codes, absmax, { shape: [4, 6], blockSize: 8, codebook }),
  })),
];

export const compositeGradCases: GradCase[] = [
  {
    op: 'matmulNf4',
    label: 'x [2,3,8] · dequant(W [4,8])ᵀ, fp4 in blocks of 16 (gradient in x and absmax)',
    inputs: [f32([2, 3, 8]), u8([16]), f32([2], uniform([2], 0.1, 2))],
    build: ([x, codes, absmax]) => ops.matmulNf4(x, codes, absmax, { shape: [4, 8], blockSize: 16, codebook: 'fp4' }),
    numRuns: 6,
  },
  {
    op: 'dequantizeDynamic8',
    label: '300 codes in blocks of 256 (gradient in scale and offset)',
    inputs: [u8([300]), f32([2], uniform([2], 0.1, 2)), f32([])],
    build: ([codes, scale, offset]) => ops.dequantizeDynamic8(codes, scale, offset),
    numRuns: 2,
  },
  {
    op: 'dropout',
    label: 'p 0.3, fixed seed and step',
    inputs: [f32([4, 5]), i32([], ints([], 0, 1000)), i32([], ints([], 0, 50))],
    build: ([x, seed, step]) => emit('dropout', [x, seed, step], { p: 0.3, key: 17 }),
  },
  { op: 'gelu', label: 'erf form', inputs: [f32([2, 4], uniform([2, 4], -3, 3))], build: ([x]) => ops.gelu(x) },
  { op: 'gelu', label: 'tanh form', inputs: [f32([2, 4], uniform([2, 4], -3, 3))], build: ([x]) => ops.gelu(x, 'tanh') },
  { op: 'silu', label: '[2,4]', inputs: [f32([2, 4], uniform([2, 4], -3, 3))], build: ([x]) => ops.silu(x) },
  {
    op: 'layerNorm',
    label: '[3,4]',
    // Distinct values keep every row's variance far above eps, where the norm is smooth.
    inputs: [f32([3, 4], distinct([3, 4])), f32([4]), f32([4])],
    build: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
  },
  {
    op: 'rmsNorm',
    label: '[2,2,3]',
    inputs: [f32([2, 2, 3], awayFromZero([2, 2, 3], 0.2, 2)), f32([3])],
    build: ([x, w]) => ops.rmsNorm(x, w, 1e-6),
  },
  {
    op: 'rope',
    label: 'heads [1,2,3,4] with tables [3,4]',
    inputs: [f32([1, 2, 3, 4]), f32([3, 4]), f32([3, 4])],
    build: ([x, c, s]) => ops.rope(x, c, s),
    numRuns: 6,
  },
  {
    op: 'attention',
    label: 'cross, no mask',
    inputs: [f32([2, 2, 3]), f32([2, 3, 3]), f32([2, 3, 2])],
    build: ([q, k, v]) => ops.attention(q, k, v),
    numRuns: 6,
  },
  {
    op: 'attention',
    label: 'causal with KV-cache alignment and an additive mask',
    inputs: [f32([1, 2, 2]), f32([1, 3, 2]), f32([1, 3, 2]), f32([2, 3], uniform([2, 3], -1, 0))],
    build: ([q, k, v, m]) => ops.attention(q, k, v, { causal: true, mask: m }),
    numRuns: 6,
  },
  {
    op: 'crossEntropy',
    label: 'ignore index -100',
    inputs: [f32([2, 3, 4], uniform([2, 3, 4], -3, 3)), i32([2, 3], labels([2, 3], 4))],
    build: ([logits, y]) => ops.crossEntropy(logits, y),
    numRuns: 8,
  },
  {
    op: 'linearLogSumExp',
    label: 'hidden [5,4], weight [7,4] in blocks of 2 tokens (last block short)',
    inputs: [f32([5, 4]), f32([7, 4])],
    build: ([h, w]) => ops.linearLogSumExp(h, w, { chunk: 2 }),
    numRuns: 6,
  },
  {
    op: 'linearLogSumExp',
    label: 'softcap 1.5, blocks of 2 tokens',
    inputs: [f32([4, 3]), f32([5, 3])],
    build: ([h, w]) => ops.linearLogSumExp(h, w, { chunk: 2, softcap: 1.5 }),
    numRuns: 6,
  },
];
