import * as tf from '@tensorflow/tfjs-core';
import { broadcastShapes, type Attrs, type DType } from '@lowrank/core';
import { CROSS_ENTROPY_ROWS_KERNEL } from '../kernels/cross-entropy.js';
import { INT_BINARY_KERNEL, INT_BINARY_OPS } from '../kernels/int-binary.js';
import { NF4_DEQUANTIZE_KERNEL } from '../kernels/nf4-dequantize.js';
import { RANDOM_UNIFORM_KERNEL } from '../kernels/random-uniform.js';
import { SOFTMAX_KERNEL } from '../kernels/softmax.js';
import { INT_SCATTER_ADD_KERNEL } from '../kernels/int-movement.js';
import { moveIntsExactly } from './exact-int.js';

/** What a kernel sees of its step: the core dtypes of its inputs and output. */
export interface KernelContext {
  readonly inputDtypes: readonly DType[];
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Inputs handed over as packed u8 words (only kernels that read them so see this). */
  readonly packedInputs?: readonly boolean[];
}

export type Kernel = (xs: readonly tf.Tensor[], attrs: Attrs, ctx: KernelContext) => tf.Tensor;

const num = (a: Attrs, k: string): number => a[k] as number;
const nums = (a: Attrs, k: string): number[] => [...(a[k] as readonly number[])];
const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

const isInt = (d: DType): boolean => d === 'i32' || d === 'u8';

function run(kernel: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown>): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}

function intBinary(op: string): Kernel {
  return ([a, b], _attrs, ctx) => run(INT_BINARY_KERNEL, { a, b }, { op, wrapU8: ctx.inputDtypes[0] === 'u8', outShape: [...ctx.shape] });
}

/** Float ops go to tfjs's kernels; integer ones to our exact integer kernel. */
function binary(op: string, float: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Kernel {
  const int = INT_BINARY_OPS.has(op) ? intBinary(op) : undefined;
  return (xs, attrs, ctx) => (int && isInt(ctx.inputDtypes[0]) ? int(xs, attrs, ctx) : float(xs[0], xs[1]));
}

/** x^e: repeated products for small integer exponents (exact signs, no pow(negative) trouble). */
function power(x: tf.Tensor, e: number): tf.Tensor {
  if (Number.isInteger(e) && Math.abs(e) <= 4) {
    if (e === 0) return tf.onesLike(x);
    let p = x;
    for (let i = 1; i < Math.abs(e); i++) p = tf.mul(p, x);
    return e < 0 ? tf.div(1, p) : p === x ? tf.clone(x) : p;
  }
  if (e === 0.5) return tf.sqrt(x);
  if (e === -0.5) return tf.rsqrt(x);
  return tf.pow(x, tf.scalar(e));
}

function cast(x: tf.Tensor, from: DType, to: DType): tf.Tensor {
  if (from === to) return tf.clone(x);
  if (to === 'bool') return tf.notEqual(x, tf.scalar(0, x.dtype));
  if (to === 'f32') return tf.cast(x, 'float32');
  // f32 -> integer truncates toward zero; u8 keeps the low 8 bits (floorMod maps -1 to 255).
  const asInt = tf.cast(x, 'int32');
  return to === 'u8' ? tf.mod(asInt, tf.scalar(256, 'int32')) : asInt;
}

function reduce(kind: 'sum' | 'mean' | 'max'): Kernel {
  return ([x], a, ctx) => {
    const axes = nums(a, 'axes').map((ax) => normAxis(ax, x.rank));
    const keep = a.keepdims as boolean;
    if (axes.length === 0) return tf.clone(x);
    if (kind === 'max') return tf.max(x, axes, keep);
    if (kind === 'sum') return tf.sum(x, axes, keep);
    const m = tf.mean(isInt(ctx.inputDtypes[0]) ? tf.cast(x, 'float32') : x, axes, keep);
    return isInt(ctx.dtype) ? tf.cast(m, 'int32') : m;
  };
}

/** Softmax along any axis through our last-axis kernel (moving the axis last when needed). */
function softmax(log: boolean): Kernel {
  return ([x], a) => {
    const axis = normAxis(num(a, 'axis'), x.rank);
    const last = x.rank - 1;
    const perm = x.shape.map((_, i) => i);
    [perm[axis], perm[last]] = [perm[last], perm[axis]];
    const moved = axis === last ? x : tf.transpose(x, perm);
    const cols = moved.shape[last] ?? 1;
    const rows = moved.size / Math.max(cols, 1);
    const y = tf.reshape(run(SOFTMAX_KERNEL, { x: tf.reshape(moved, [rows, cols]) }, { log }), moved.shape);
    return axis === last ? y : tf.transpose(y, perm);
  };
}

function matmul(): Kernel {
  return ([a, b], attrs) => {
    const transA = attrs.transA as boolean;
    const transB = attrs.transB as boolean;
    if (a.rank === 2 && b.rank === 2) return tf.matMul(a, b, transA, transB);
    // [..., m, k] x [k, n]: fold a's batch into its rows (no copy of the weight).
    if (b.rank === 2 && !transA) {
      const k = a.shape[a.rank - 1];
      const rows = tf.reshape(a, [a.size / k, k]);
      const out = tf.matMul(rows, b, false, transB);
      return tf.reshape(out, [...a.shape.slice(0, -1), out.shape[1] as number]);
    }
    const batchShape = [...broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2))!];
    const full = (t: tf.Tensor) => {
      const mat = t.shape.slice(-2);
      const target = [...batchShape, ...mat];
      const expanded = t.shape.length === target.length && t.shape.every((d, i) => d === target[i]) ? t : tf.broadcastTo(t, target);
      return tf.reshape(expanded, [batchShape.reduce((p, d) => p * d, 1), mat[0], mat[1]]);
    };
    const out = tf.matMul(full(a), full(b), transA, transB);
    return tf.reshape(out, [...batchShape, out.shape[1] as number, out.shape[2] as number]);
  };
}

/** scatterAdd along `axis`: f32 through tfjs's segment sum (indices as segment ids), i32 through ours. */
const scatterAdd: Kernel = ([upd, idx], a, ctx) => {
  const axis = num(a, 'axis');
  const size = num(a, 'size');
  const outer = upd.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const n = idx.size;
  const inner = upd.size / Math.max(outer * n, 1);
  const outShape = [...upd.shape.slice(0, axis), size, ...upd.shape.slice(axis + idx.rank)];
  if (ctx.dtype !== 'f32') {
    const summed = run(INT_SCATTER_ADD_KERNEL, { updates: tf.reshape(upd, [outer, n, inner]), indices: tf.reshape(idx, [n]) }, { size });
    return tf.reshape(summed, outShape);
  }
  const ids = tf.reshape(idx, [n]) as tf.Tensor1D;
  let rows = tf.reshape(upd, [outer, n, inner]);
  rows = outer === 1 ? tf.reshape(rows, [n, inner]) : tf.reshape(tf.transpose(rows, [1, 0, 2]), [n, outer * inner]);
  const summed = tf.unsortedSegmentSum(rows, ids, size);
  const back = outer === 1 ? summed : tf.transpose(tf.reshape(summed, [size, outer, inner]), [1, 0, 2]);
  return tf.reshape(back, outShape);
};

/** Fused mean token cross-entropy: our per-row WGSL kernel, then the mean over valid labels. */
const crossEntropy: Kernel = ([logits, labels], a) => {
  const vocab = logits.shape[logits.rank - 1];
  const rows = logits.size / vocab;
  const ignore = num(a, 'ignoreIndex');
  const flatLabels = tf.reshape(labels, [rows]);
  const nll = run(CROSS_ENTROPY_ROWS_KERNEL, { logits: tf.reshape(logits, [rows, vocab]), labels: flatLabels }, { ignoreIndex: ignore });
  const count = tf.maximum(tf.sum(tf.cast(tf.notEqual(flatLabels, tf.scalar(ignore, 'int32')), 'float32')), 1);
  return tf.div(tf.sum(nll), count);
};

const unary = (f: (x: tf.Tensor) => tf.Tensor): Kernel => ([x]) => f(x);

/** A data-movement kernel made exact for i32 (all inputs are the data). */
function moving(k: Kernel): Kernel {
  return (xs, attrs, ctx) => (ctx.dtype === 'i32' ? moveIntsExactly(xs, (parts) => k(parts, attrs, ctx)) : k(xs, attrs, ctx));
}

/** As `moving`, for kernels whose first input is the data and the rest are indices. */
function movingFirst(k: Kernel): Kernel {
  return (xs, attrs, ctx) =>
    ctx.dtype === 'i32' ? moveIntsExactly([xs[0]], ([data]) => k([data, ...xs.slice(1)], attrs, ctx)) : k(xs, attrs, ctx);
}

/** Every core primitive, and the composites this backend fuses, as tfjs kernel calls. */
export const KERNELS: Readonly<Record<string, Kernel>> = {
  neg: unary(tf.neg),
  exp: unary(tf.exp),
  log: unary(tf.log),
  sqrt: unary(tf.sqrt),
  rsqrt: unary(tf.rsqrt),
  tanh: unary(tf.tanh),
  sigmoid: unary(tf.sigmoid),
  relu: unary(tf.relu),
  sin: unary(tf.sin),
  cos: unary(tf.cos),
  erf: unary(tf.erf),
  pow: ([x], a) => power(x, num(a, 'exponent')),
  add: binary('add', tf.add),
  sub: binary('sub', tf.sub),
  mul: binary('mul', tf.mul),
  div: binary('div', tf.div),
  maximum: binary('maximum', tf.maximum),
  minimum: binary('minimum', tf.minimum),
  equal: binary('equal', tf.equal),
  notEqual: binary('notEqual', tf.notEqual),
  less: binary('less', tf.less),
  lessEqual: binary('lessEqual', tf.lessEqual),
  greater: binary('greater', tf.greater),
  greaterEqual: binary('greaterEqual', tf.greaterEqual),
  logicalAnd: ([a, b]) => tf.logicalAnd(a, b),
  logicalOr: ([a, b]) => tf.logicalOr(a, b),
  where: ([c, a, b], _attrs, ctx) => {
    const shape = [...ctx.shape];
    const full = (t: tf.Tensor) => (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]) ? t : tf.broadcastTo(t, shape));
    const select = ([x, y]: readonly tf.Tensor[]) => tf.where(full(c) as tf.Tensor, full(x), full(y));
    return ctx.dtype === 'i32' ? moveIntsExactly([a, b], select) : select([a, b]);
  },
  cast: ([x], a, ctx) => cast(x, ctx.inputDtypes[0], a.dtype as DType),
  stopGradient: ([x]) => tf.clone(x),
  reduceSum: reduce('sum'),
  reduceMean: reduce('mean'),
  reduceMax: reduce('max'),
  softmax: softmax(false),
  logSoftmax: softmax(true),
  reshape: ([x], a) => tf.reshape(x, nums(a, 'shape')),
  transpose: moving(([x], a) => tf.transpose(x, nums(a, 'perm'))),
  slice: moving(([x], a) => {
    const starts = nums(a, 'starts');
    return tf.slice(x, starts, nums(a, 'ends').map((e, i) => e - starts[i]));
  }),
  pad: moving(([x], a) => {
    const before = nums(a, 'before');
    const after = nums(a, 'after');
    return tf.pad(x, before.map((b, i) => [b, after[i]] as [number, number]), 0);
  }),
  concat: moving((xs, a) => (xs.length === 1 ? tf.clone(xs[0]) : tf.concat([...xs], normAxis(num(a, 'axis'), xs[0].rank)))),
  broadcastTo: moving(([x], a) => tf.broadcastTo(x, nums(a, 'shape'))),
  gather: movingFirst(([table, idx], a) => tf.gather(table, idx, normAxis(num(a, 'axis'), table.rank))),
  scatterAdd,
  matmul: matmul(),
  randomUniform: ([seed, step], a) => run(RANDOM_UNIFORM_KERNEL, { seed, step }, { shape: nums(a, 'shape'), key: num(a, 'key') }),
  nf4Dequantize: ([codes, absmax], a, ctx) =>
    run(
      NF4_DEQUANTIZE_KERNEL,
      { codes, absmax },
      { shape: nums(a, 'shape'), blockSize: num(a, 'blockSize'), codebook: a.codebook as string, packed: ctx.packedInputs?.[0] ?? false },
    ),
  crossEntropy,
};

/** Kernels that read packed u8 words at these input positions (others get unpacked copies). */
export const READS_PACKED_U8: Readonly<Record<string, readonly number[]>> = { nf4Dequantize: [0] };

/** The fused composites (their expansion is not traced into primitives). */
export const FUSED_COMPOSITES: ReadonlySet<string> = new Set(['crossEntropy']);

