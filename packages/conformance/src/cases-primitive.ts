// Cases for every primitive op: several shapes each, with broadcasting,
// size-1 axes, scalars, batch broadcasting and transposes where they apply.
import { emit, ops, type Shape, type Tensor } from '@lowrank/core';
import { bool, f32, fmt, i32, u8, values, type InputSpec, type OpCase } from './case.js';
import type { ValueKind } from './random.js';

const unaryShapes: Shape[] = [[], [7], [2, 1, 5]];

function unary(op: string, v: ValueKind = values.uniform()): OpCase[] {
  return unaryShapes.map((s) => ({ op, label: fmt(s), inputs: [f32(s, v)], build: ([x]) => emit(op, [x]) }));
}

/** Equal shapes, broadcasting on both sides, a scalar operand, size-1 axes. */
const binaryShapes: [Shape, Shape][] = [
  [[3, 4], [3, 4]],
  [[2, 1, 4], [3, 1]],
  [[5], []],
  [[1, 3], [2, 1]],
];

function binary(op: string, va: ValueKind, vb: ValueKind, dtype: 'f32' | 'i32' = 'f32'): OpCase[] {
  const spec = (s: Shape, v: ValueKind): InputSpec => (dtype === 'f32' ? f32(s, v) : i32(s, v));
  return binaryShapes.map(([a, b]) => ({
    op,
    label: `${dtype} ${fmt(a)} with ${fmt(b)}`,
    inputs: [spec(a, va), spec(b, vb)],
    build: ([x, y]) => emit(op, [x, y]),
  }));
}

const smallInts = values.int(-2, 2);

export const primitiveCases: OpCase[] = [
  ...['neg', 'exp', 'tanh', 'sigmoid', 'sin', 'cos', 'erf'].flatMap((op) => unary(op)),
  ...['log', 'sqrt', 'rsqrt'].flatMap((op) => unary(op, values.positive())),
  ...unary('relu', values.awayFromZero(0.1, 2)),
  ...[2, 3, -0.5, 1.5].map((exponent) => ({
    op: 'pow',
    label: `exponent ${exponent}`,
    inputs: [f32([3, 4], values.positive())],
    build: ([x]: Tensor[]) => ops.pow(x, exponent),
  })),
  ...['add', 'sub', 'mul'].flatMap((op) => [...binary(op, values.uniform(), values.uniform()), ...binary(op, smallInts, smallInts, 'i32').slice(0, 2)]),
  ...binary('div', values.uniform(), values.awayFromZero(0.5, 2)),
  ...['maximum', 'minimum'].flatMap((op) => binary(op, values.grid(0), values.grid(0.05))),
  ...['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'].flatMap((op) => [
    ...binary(op, smallInts, smallInts),
    ...binary(op, smallInts, smallInts, 'i32').slice(0, 2),
  ]),
  ...['logicalAnd', 'logicalOr'].map((op) => ({
    op,
    label: 'bool [2,3] with [3]',
    inputs: [bool([2, 3]), bool([3])],
    build: ([a, b]: Tensor[]) => emit(op, [a, b]),
  })),
  { op: 'where', label: 'broadcast condition and branches', inputs: [bool([2, 1]), f32([2, 3]), f32([3])], build: ([c, a, b]) => ops.where(c, a, b) },
  { op: 'where', label: 'same shapes', inputs: [bool([4]), f32([4]), f32([4])], build: ([c, a, b]) => ops.where(c, a, b) },
  { op: 'cast', label: 'f32 to i32 (truncates)', inputs: [f32([6], values.uniform(-5, 5))], build: ([x]) => ops.cast(x, 'i32') },
  { op: 'cast', label: 'i32 to f32', inputs: [i32([6], values.int(-50, 50))], build: ([x]) => ops.cast(x, 'f32') },
  { op: 'cast', label: 'bool to f32', inputs: [bool([6])], build: ([x]) => ops.cast(x, 'f32') },
  { op: 'cast', label: 'f32 to bool', inputs: [f32([6], values.int(-1, 1))], build: ([x]) => ops.cast(x, 'bool') },
  { op: 'cast', label: 'f32 to f32 (gradient passes)', inputs: [f32([2, 3])], build: ([x]) => emit('cast', [x], { dtype: 'f32' }) },
  { op: 'stopGradient', label: 'forward identity, zero gradient', inputs: [f32([2, 3])], build: ([x]) => ops.stopGradient(x) },
  ...(
    [
      [[2, 3, 4], [1], true],
      [[2, 3, 4], [0, 2], false],
      [[7], [0], false],
      [[3, 1, 4], [-1], true],
      [[2, 3], [0, 1], false],
    ] as const
  ).flatMap(([shape, axes, keepdims]) =>
    (['reduceSum', 'reduceMean', 'reduceMax'] as const).map((op) => ({
      op,
      label: `${fmt(shape)} axes ${fmt(axes)} keepdims=${keepdims}`,
      inputs: [f32(shape, op === 'reduceMax' ? values.distinct() : values.uniform())],
      build: ([x]: Tensor[]) => emit(op, [x], { axes: [...axes], keepdims }),
    })),
  ),
  { op: 'reduceSum', label: 'i32 [3,4] axis 1', inputs: [i32([3, 4], values.int(-9, 9))], build: ([x]) => ops.sum(x, [1]) },
  ...(
    [
      [[3, 5], -1],
      [[3, 5], 0],
      [[2, 3, 4], 1],
      [[1, 6], -1],
    ] as const
  ).flatMap(([shape, axis]) =>
    ['softmax', 'logSoftmax'].map((op) => ({
      op,
      label: `${fmt(shape)} axis ${axis}`,
      inputs: [f32(shape, values.uniform(-3, 3))],
      build: ([x]: Tensor[]) => emit(op, [x], { axis }),
    })),
  ),
  { op: 'reshape', label: '[2,3,4] to [6,4]', inputs: [f32([2, 3, 4])], build: ([x]) => ops.reshape(x, [6, 4]) },
  { op: 'reshape', label: '[4] to [2,1,2]', inputs: [f32([4])], build: ([x]) => ops.reshape(x, [2, 1, 2]) },
  { op: 'transpose', label: '[2,3,4] perm [2,0,1]', inputs: [f32([2, 3, 4])], build: ([x]) => ops.transpose(x, [2, 0, 1]) },
  { op: 'transpose', label: '[3,5] swap', inputs: [f32([3, 5])], build: ([x]) => ops.transpose(x) },
  { op: 'transpose', label: '[2,1,3,2] last two', inputs: [f32([2, 1, 3, 2])], build: ([x]) => ops.transposeLast2(x) },
  { op: 'slice', label: '[4,5] inner block', inputs: [f32([4, 5])], build: ([x]) => ops.slice(x, [1, 0], [3, 4]) },
  { op: 'slice', label: '[2,3,4] one axis', inputs: [f32([2, 3, 4])], build: ([x]) => ops.sliceAxis(x, -1, 1, 3) },
  { op: 'pad', label: '[2,3] both sides', inputs: [f32([2, 3])], build: ([x]) => ops.pad(x, [1, 0], [0, 2]) },
  { op: 'pad', label: '[2,1,2] middle axis', inputs: [f32([2, 1, 2])], build: ([x]) => ops.pad(x, [0, 2, 0], [0, 1, 0]) },
  { op: 'concat', label: 'axis 0', inputs: [f32([2, 3]), f32([1, 3])], build: (xs) => ops.concat(xs, 0) },
  { op: 'concat', label: 'axis -1, three inputs', inputs: [f32([2, 1]), f32([2, 3]), f32([2, 2])], build: (xs) => ops.concat(xs, -1) },
  { op: 'concat', label: 'i32 axis 1', inputs: [i32([2, 2], values.int(-5, 5)), i32([2, 1], values.int(-5, 5))], build: (xs) => ops.concat(xs, 1) },
  { op: 'broadcastTo', label: '[3,1] to [2,3,4]', inputs: [f32([3, 1])], build: ([x]) => ops.broadcastTo(x, [2, 3, 4]) },
  { op: 'broadcastTo', label: 'scalar to [2,2]', inputs: [f32([])], build: ([x]) => ops.broadcastTo(x, [2, 2]) },
  { op: 'gather', label: 'embedding rows with repeats', inputs: [f32([6, 4]), i32([2, 5], values.int(0, 5))], build: ([t, i]) => ops.gather(t, i) },
  { op: 'gather', label: 'axis 1', inputs: [f32([2, 5, 3]), i32([4], values.int(0, 4))], build: ([t, i]) => ops.gather(t, i, 1) },
  { op: 'scatterAdd', label: 'rows with repeats', inputs: [f32([6, 3]), i32([6], values.int(0, 3))], build: ([u, i]) => ops.scatterAdd(u, i, 0, 5) },
  ...(
    [
      [[3, 4], [4, 5], false, false],
      [[4, 3], [4, 5], true, false],
      [[3, 4], [5, 4], false, true],
      [[4, 3], [5, 4], true, true],
      [[2, 1, 3, 4], [3, 4, 5], false, false],
      [[2, 3, 4], [4, 2], false, false],
      [[3, 4], [2, 5, 4], false, true],
      [[1, 4], [4, 1], false, false],
    ] as const
  ).map(([a, b, transA, transB]) => ({
    op: 'matmul',
    label: `${fmt(a)}${transA ? 'ᵀ' : ''} x ${fmt(b)}${transB ? 'ᵀ' : ''}`,
    inputs: [f32(a), f32(b)],
    build: ([x, y]: Tensor[]) => ops.matmul(x, y, { transA, transB }),
  })),
  {
    op: 'randomUniform',
    label: '[3,5] from (seed, step, key)',
    inputs: [i32([], values.int(-1000, 1000)), i32([], values.int(0, 1000))],
    build: ([seed, step]) => emit('randomUniform', [seed, step], { shape: [3, 5], key: 12345 }),
  },
  ...['nf4', 'fp4'].map((codebook) => ({
    op: 'nf4Dequantize',
    label: `${codebook}, [4,16] in blocks of 16`,
    inputs: [u8([32]), f32([4], values.uniform(0.1, 2))],
    build: ([codes, absmax]: Tensor[]) => ops.nf4Dequantize(codes, absmax, { shape: [4, 16], blockSize: 16, codebook }),
  })),
];
