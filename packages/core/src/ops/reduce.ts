import type { Tensor } from '../graph/tensor.js';
import { NDArray } from '../reference/ndarray.js';
import { normalizeAxis, numel, stridesOf, type Shape } from '../shape.js';
import { broadcastTo, cast, div, equal, exp, mul, reshape, sub, sum, where } from './emit.js';
import { defineOp, dtypeRule, shapeRule, type ValueInfo } from './registry.js';

type ReduceAttrs = { axes: readonly number[]; keepdims: boolean };
type AxisAttrs = { axis: number };

function resolveAxes(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => {
    const n = normalizeAxis(a, rank);
    if (n < 0) shapeRule(`axis ${a} is out of range for rank ${rank}`);
    return n;
  });
  if (new Set(out).size !== out.length) shapeRule(`axes [${axes.join(', ')}] repeat an axis`);
  return out.sort((a, b) => a - b);
}

function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (axes.includes(i)) {
      if (keepdims) out.push(1);
    } else out.push(d);
  });
  return out;
}

function reduceInfer(name: string) {
  return ([x]: readonly ValueInfo[], a: ReduceAttrs): ValueInfo => {
    if (x.dtype === 'bool') dtypeRule(`${name} is not defined on bool`);
    if (name !== 'reduceMax' && x.dtype !== 'f32' && x.dtype !== 'i32') dtypeRule(`${name} needs f32 or i32`);
    return { shape: reducedShape(x.shape, resolveAxes(a.axes, x.shape.length), a.keepdims), dtype: x.dtype };
  };
}

/** Visits groups of input offsets that reduce to one output element. */
function reduceRef(x: NDArray, axes: readonly number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number, fin?: (acc: number, count: number) => number): NDArray {
  const ax = resolveAxes(axes, x.shape.length);
  const outShape = reducedShape(x.shape, ax, keepdims);
  const keptShape = reducedShape(x.shape, ax, true);
  const out = new Float64Array(numel(outShape)).fill(init);
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(keptShape);
  const count = ax.reduce((c, a) => c * x.shape[a], 1);
  for (let k = 0; k < x.size; k++) {
    let rem = k;
    let o = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const i = Math.floor(rem / inStrides[d]);
      rem -= i * inStrides[d];
      if (!ax.includes(d)) o += i * outStrides[d];
    }
    out[o] = f(out[o], x.data[k]);
  }
  if (fin) for (let i = 0; i < out.length; i++) out[i] = fin(out[i], count);
  return new NDArray(outShape, x.dtype, out);
}

/** Reshapes a reduced gradient back to keepdims form and broadcasts it over the input. */
function expandReduced(g: Tensor, x: Tensor, a: ReduceAttrs): Tensor {
  const ax = resolveAxes(a.axes, x.rank);
  const kept = reducedShape(x.shape, ax, true);
  return broadcastTo(a.keepdims ? g : reshape(g, kept), x.shape);
}

defineOp<ReduceAttrs>({
  name: 'reduceSum',
  kind: 'primitive',
  infer: reduceInfer('reduceSum'),
  reference: ([x], a) => reduceRef(x, a.axes, a.keepdims, 0, (s, v) => s + v),
  vjp: ({ grad, inputs: [x], attrs }) => [expandReduced(grad, x, attrs)],
});

defineOp<ReduceAttrs>({
  name: 'reduceMean',
  kind: 'primitive',
  infer: reduceInfer('reduceMean'),
  reference: ([x], a) => reduceRef(x, a.axes, a.keepdims, 0, (s, v) => s + v, (s, c) => s / c),
  vjp: ({ grad, inputs: [x], attrs }) => {
    const count = resolveAxes(attrs.axes, x.rank).reduce((c, i) => c * x.shape[i], 1);
    return [div(expandReduced(grad, x, attrs), count)];
  },
});

defineOp<ReduceAttrs>({
  name: 'reduceMax',
  kind: 'primitive',
  infer: reduceInfer('reduceMax'),
  reference: ([x], a) => reduceRef(x, a.axes, a.keepdims, -Infinity, Math.max),
  // The gradient is shared equally between tied maxima.
  vjp: ({ grad, inputs: [x], output, attrs }) => {
    const isMax = equal(x, expandReduced(output, x, attrs));
    const ties = sum(cast(isMax, 'f32'), attrs.axes, true);
    return [where(isMax, div(expandReduced(grad, x, attrs), broadcastTo(ties, x.shape)), 0)];
  },
});

function softmaxRef(x: NDArray, axis: number, log: boolean): NDArray {
  const ax = normalizeAxis(axis, x.shape.length);
  const max = reduceRef(x, [ax], true, -Infinity, Math.max);
  const shifted = x.data.map((v, k) => v - max.data[keptIndex(x.shape, ax, k)]);
  const e = shifted.map(Math.exp);
  const denom = reduceRef(new NDArray(x.shape, x.dtype, e), [ax], true, 0, (s, v) => s + v);
  const out = shifted.map((v, k) => {
    const d = denom.data[keptIndex(x.shape, ax, k)];
    return log ? v - Math.log(d) : Math.exp(v) / d;
  });
  return new NDArray(x.shape, x.dtype, out);
}

/** Offset in the keepdims-reduced array of element k of an array of `shape`. */
function keptIndex(shape: Shape, axis: number, k: number): number {
  const inner = stridesOf(shape)[axis];
  const outer = Math.floor(k / (inner * shape[axis]));
  return outer * inner + (k % inner);
}

const softmaxInfer = ([x]: readonly ValueInfo[], a: AxisAttrs): ValueInfo => {
  if (x.dtype !== 'f32') dtypeRule(`needs f32, got ${x.dtype}`);
  if (normalizeAxis(a.axis, x.shape.length) < 0) shapeRule(`axis ${a.axis} is out of range for rank ${x.shape.length}`);
  return x;
};

defineOp<AxisAttrs>({
  name: 'softmax',
  kind: 'primitive',
  infer: softmaxInfer,
  reference: ([x], a) => softmaxRef(x, a.axis, false),
  vjp: ({ grad, output, attrs }) => [mul(output, sub(grad, sum(mul(grad, output), [attrs.axis], true)))],
  flops: ([x]) => 5 * numel(x.shape),
});

defineOp<AxisAttrs>({
  name: 'logSoftmax',
  kind: 'primitive',
  infer: softmaxInfer,
  reference: ([x], a) => softmaxRef(x, a.axis, true),
  vjp: ({ grad, output, attrs }) => [sub(grad, mul(exp(output), sum(grad, [attrs.axis], true)))],
  flops: ([x]) => 5 * numel(x.shape),
});

export { logSoftmax, max, mean, softmax, sum } from './emit.js';
