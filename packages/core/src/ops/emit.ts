// Thin op wrappers: each adds one node of a declared op (plus the small
// conveniences every caller wants: number operands, -1 in reshape, no-op
// casts). Op declarations and their VJPs import these, never each other's
// files, so the op modules form no import cycle. Nothing here declares an op:
// the declarations must be loaded (ops/index.ts) before these are called.
import type { DType } from '../dtype.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { stringKey } from '../rng/counter-hash.js';
import { normalizeAxis, numel, shapesEqual, type Shape } from '../shape.js';
import { emit } from './registry.js';

// ---- creation ---------------------------------------------------------------

/** A constant tensor baked into the graph. */
export function constant(graph: Graph, values: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): Tensor {
  return emit('constant', [], { shape: [...shape], dtype, values: Float64Array.from(values) }, graph);
}
export const scalar = (graph: Graph, value: number, dtype: DType = 'f32'): Tensor => constant(graph, [value], [], dtype);
export const fill = (graph: Graph, shape: Shape, value: number, dtype: DType = 'f32'): Tensor =>
  emit('fill', [], { shape: [...shape], dtype, value }, graph);
export const zeros = (graph: Graph, shape: Shape, dtype: DType = 'f32'): Tensor => fill(graph, shape, 0, dtype);
export const ones = (graph: Graph, shape: Shape, dtype: DType = 'f32'): Tensor => fill(graph, shape, 1, dtype);
export const arange = (graph: Graph, start: number, stop: number, step = 1, dtype: DType = 'i32'): Tensor =>
  emit('arange', [], { start, stop, step, dtype }, graph);

// ---- elementwise ------------------------------------------------------------

/** A tensor, or a number that becomes a scalar constant of the other operand's dtype. */
export type TensorLike = Tensor | number;

function lift(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(like.graph, x, like.dtype) : x;
}

function pair(a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new TypeError('at least one operand must be a Tensor');
  const ref = (typeof a === 'number' ? b : a) as Tensor;
  return [lift(a, ref), lift(b, ref)];
}

export const neg = (x: Tensor): Tensor => emit('neg', [x]);
export const exp = (x: Tensor): Tensor => emit('exp', [x]);
export const log = (x: Tensor): Tensor => emit('log', [x]);
export const sqrt = (x: Tensor): Tensor => emit('sqrt', [x]);
export const rsqrt = (x: Tensor): Tensor => emit('rsqrt', [x]);
export const tanh = (x: Tensor): Tensor => emit('tanh', [x]);
export const sigmoid = (x: Tensor): Tensor => emit('sigmoid', [x]);
export const relu = (x: Tensor): Tensor => emit('relu', [x]);
export const sin = (x: Tensor): Tensor => emit('sin', [x]);
export const cos = (x: Tensor): Tensor => emit('cos', [x]);
export const erf = (x: Tensor): Tensor => emit('erf', [x]);
export const pow = (x: Tensor, exponent: number): Tensor => emit('pow', [x], { exponent });
export const square = (x: Tensor): Tensor => mul(x, x);

export const add = (a: TensorLike, b: TensorLike): Tensor => emit('add', pair(a, b));
export const sub = (a: TensorLike, b: TensorLike): Tensor => emit('sub', pair(a, b));
export const mul = (a: TensorLike, b: TensorLike): Tensor => emit('mul', pair(a, b));
export const div = (a: TensorLike, b: TensorLike): Tensor => emit('div', pair(a, b));
export const maximum = (a: TensorLike, b: TensorLike): Tensor => emit('maximum', pair(a, b));
export const minimum = (a: TensorLike, b: TensorLike): Tensor => emit('minimum', pair(a, b));
export const equal = (a: TensorLike, b: TensorLike): Tensor => emit('equal', pair(a, b));
export const notEqual = (a: TensorLike, b: TensorLike): Tensor => emit('notEqual', pair(a, b));
export const less = (a: TensorLike, b: TensorLike): Tensor => emit('less', pair(a, b));
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => emit('lessEqual', pair(a, b));
export const greater = (a: TensorLike, b: TensorLike): Tensor => emit('greater', pair(a, b));
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => emit('greaterEqual', pair(a, b));
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => emit('logicalAnd', [a, b]);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => emit('logicalOr', [a, b]);
export const cast = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype ? x : emit('cast', [x], { dtype }));
export const stopGradient = (x: Tensor): Tensor => emit('stopGradient', [x]);

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb] = pair(a, b);
  return emit('where', [cond, ta, tb]);
}

/** Broadcasts `x` to the shape of `like` when it is not already that shape. */
export function broadcastLike(x: Tensor, like: Tensor): Tensor {
  return shapesEqual(x.shape, like.shape) ? x : broadcastTo(x, like.shape);
}

/** Sums a broadcast gradient back down to `shape` (the VJP of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, false) : g;
  return shapesEqual(s.shape, shape) ? s : reshape(s, shape);
}

// ---- reductions -------------------------------------------------------------

const allAxes = (x: Tensor) => x.shape.map((_, i) => i);

export const sum = (x: Tensor, axes: readonly number[] = allAxes(x), keepdims = false): Tensor =>
  emit('reduceSum', [x], { axes: [...axes], keepdims });
export const mean = (x: Tensor, axes: readonly number[] = allAxes(x), keepdims = false): Tensor =>
  emit('reduceMean', [x], { axes: [...axes], keepdims });
export const max = (x: Tensor, axes: readonly number[] = allAxes(x), keepdims = false): Tensor =>
  emit('reduceMax', [x], { axes: [...axes], keepdims });
export const softmax = (x: Tensor, axis = -1): Tensor => emit('softmax', [x], { axis });
export const logSoftmax = (x: Tensor, axis = -1): Tensor => emit('logSoftmax', [x], { axis });

// ---- shapes -----------------------------------------------------------------

export const reshape = (x: Tensor, shape: Shape): Tensor => {
  const neg = shape.indexOf(-1);
  const s = [...shape];
  if (neg >= 0) {
    const known = s.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    s[neg] = known === 0 ? 0 : numel(x.shape) / known;
  }
  if (shapesEqual(s, x.shape)) return x;
  return emit('reshape', [x], { shape: s });
};
export const transpose = (x: Tensor, perm?: readonly number[]): Tensor =>
  emit('transpose', [x], { perm: perm ? [...perm] : x.shape.map((_, i) => x.rank - 1 - i) });
/** Swaps the last two axes. */
export const transposeLast2 = (x: Tensor): Tensor => {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
};
export const slice = (x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor =>
  emit('slice', [x], { starts: [...starts], ends: [...ends] });
/** Slices [start, end) along one axis. */
export const sliceAxis = (x: Tensor, axis: number, start: number, end: number): Tensor => {
  const a = normalizeAxis(axis, x.rank);
  return slice(x, x.shape.map((_, i) => (i === a ? start : 0)), x.shape.map((d, i) => (i === a ? end : d)));
};
export const pad = (x: Tensor, before: readonly number[], after: readonly number[]): Tensor =>
  emit('pad', [x], { before: [...before], after: [...after] });
export const concat = (xs: readonly Tensor[], axis: number): Tensor => emit('concat', xs, { axis });
export const broadcastTo = (x: Tensor, shape: Shape): Tensor =>
  shapesEqual(x.shape, shape) ? x : emit('broadcastTo', [x], { shape: [...shape] });
export const expandDims = (x: Tensor, axis: number): Tensor => {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
};

// ---- indexing, matmul, randomness, quantization -----------------------------

export const gather = (table: Tensor, indices: Tensor, axis = 0): Tensor => emit('gather', [table, indices], { axis });
export const scatterAdd = (updates: Tensor, indices: Tensor, axis: number, size: number): Tensor =>
  emit('scatterAdd', [updates, indices], { axis, size });

export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return emit('matmul', [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
}

/**
 * Random ops are keyed by their module path and their order within it, so the
 * same model code gives the same keys on every backend and every run.
 */
export function nextRandomKey(graph: Graph): number {
  return stringKey(`${graph.modulePath}#${graph.nextRandomOrdinal()}`);
}

export function randomUniform(graph: Graph, shape: readonly number[], key = nextRandomKey(graph)): Tensor {
  const { seed, step } = graph.rngInputs();
  return emit('randomUniform', [seed, step], { shape: [...shape], key });
}

/** Dropout keyed by (seed, step, node); p = 0 returns x unchanged. */
export function dropout(x: Tensor, p: number, key = nextRandomKey(x.graph)): Tensor {
  if (p === 0) return x;
  const { seed, step } = x.graph.rngInputs();
  return emit('dropout', [x, seed, step], { p, key });
}

export type FourBitCodebook = 'nf4' | 'fp4';
type FourBitOptions = { shape: readonly number[]; blockSize?: number; codebook?: FourBitCodebook | string };
const fourBitAttrs = (o: FourBitOptions) => ({ shape: [...o.shape], blockSize: o.blockSize ?? 64, codebook: o.codebook ?? 'nf4' });

export const nf4Dequantize = (codes: Tensor, absmax: Tensor, opts: FourBitOptions): Tensor => emit('nf4Dequantize', [codes, absmax], fourBitAttrs(opts));
/** x · dequant(W)ᵀ for a 4-bit quantized frozen weight W [N, K] (see the op in quant.ts). */
export const matmulNf4 = (x: Tensor, codes: Tensor, absmax: Tensor, opts: FourBitOptions): Tensor =>
  emit('matmulNf4', [x, codes, absmax], fourBitAttrs(opts));
export const dequantizeDynamic8 = (codes: Tensor, scale: Tensor, offset: Tensor, blockSize = 256): Tensor =>
  emit('dequantizeDynamic8', [codes, scale, offset], { blockSize });

// ---- composites ---------------------------------------------------------------

export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => emit('gelu', [x], { approximate });
export const silu = (x: Tensor): Tensor => emit('silu', [x]);
export const layerNorm = (x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor => emit('layerNorm', [x, weight, bias], { eps });
export const rmsNorm = (x: Tensor, weight: Tensor, eps = 1e-6): Tensor => emit('rmsNorm', [x, weight], { eps });
export const rope = (x: Tensor, cosTable: Tensor, sinTable: Tensor): Tensor => emit('rope', [x, cosTable, sinTable]);
export const crossEntropy = (logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor =>
  emit('crossEntropy', [logits, labels], { ignoreIndex });

export interface AttentionOptions {
  causal?: boolean;
  /** Defaults to 1/sqrt(head dim). */
  scale?: number;
  /** Additive f32 mask broadcastable to [..., Sq, Sk] (0 keeps, large negative drops). */
  mask?: Tensor;
}

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[q.rank - 1]);
  const inputs = opts.mask ? [q, k, v, opts.mask] : [q, k, v];
  return emit('attention', inputs, { causal: opts.causal ?? false, scale, hasMask: !!opts.mask });
}

/**
 * log-sum-exp over the vocabulary of hidden · weightᵀ, one row per token,
 * computed `chunk` tokens at a time (see the op). `weight` is the output
 * layer's [vocab, width] table, f32 or 16-bit storage.
 */
export const linearLogSumExp = (hidden: Tensor, weight: Tensor, opts: { chunk: number; softcap?: number | null }): Tensor =>
  emit('linearLogSumExp', [hidden, weight], { chunk: opts.chunk, softcap: opts.softcap ?? 0 });
