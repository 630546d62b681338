import { broadcastIndex, NDArray } from '../reference/ndarray.js';
import { broadcastShapes, formatShape, normalizeAxis, numel, shapesEqual, stridesOf, type Shape } from '../shape.js';
import { pad, reshape, slice, sumToShape, transpose } from './emit.js';
import { defineOp, shapeRule, type ValueInfo } from './registry.js';

type ShapeAttrs = { shape: readonly number[] };
type PermAttrs = { perm: readonly number[] };
type SliceAttrs = { starts: readonly number[]; ends: readonly number[] };
type PadAttrs = { before: readonly number[]; after: readonly number[] };
type ConcatAttrs = { axis: number };

const zeroFlops = () => 0;

defineOp<ShapeAttrs>({
  name: 'reshape',
  kind: 'primitive',
  infer: ([x], a) => {
    if (numel(a.shape) !== numel(x.shape) || a.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      shapeRule(`cannot reshape ${numel(x.shape)} elements to ${formatShape(a.shape)}`);
    }
    return { shape: a.shape, dtype: x.dtype };
  },
  reference: ([x], a) => new NDArray(a.shape, x.dtype, x.data),
  vjp: ({ grad, inputs: [x] }) => [reshape(grad, x.shape)],
  flops: zeroFlops,
});

/** Applies `perm` to a shape (output axis i is input axis perm[i]). */
function permute(shape: Shape, perm: readonly number[]): number[] {
  return perm.map((p) => shape[p]);
}

defineOp<PermAttrs>({
  name: 'transpose',
  kind: 'primitive',
  infer: ([x], a) => {
    const r = x.shape.length;
    if (a.perm.length !== r || [...a.perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      shapeRule(`perm [${a.perm.join(', ')}] is not a permutation of ${r} axes`);
    }
    return { shape: permute(x.shape, a.perm), dtype: x.dtype };
  },
  reference: ([x], a) => {
    const outShape = permute(x.shape, a.perm);
    const inStrides = stridesOf(x.shape);
    const src = a.perm.map((p) => inStrides[p]);
    const out = new Float64Array(x.size);
    const counter = new Array<number>(outShape.length).fill(0);
    let off = 0;
    for (let k = 0; k < x.size; k++) {
      out[k] = x.data[off];
      for (let d = outShape.length - 1; d >= 0; d--) {
        counter[d]++;
        off += src[d];
        if (counter[d] < outShape[d]) break;
        off -= src[d] * counter[d];
        counter[d] = 0;
      }
    }
    return new NDArray(outShape, x.dtype, out);
  },
  vjp: ({ grad, attrs }) => {
    const inv = new Array<number>(attrs.perm.length);
    attrs.perm.forEach((p, i) => (inv[p] = i));
    return [transpose(grad, inv)];
  },
  flops: zeroFlops,
});

defineOp<SliceAttrs>({
  name: 'slice',
  kind: 'primitive',
  infer: ([x], a) => {
    if (a.starts.length !== x.shape.length || a.ends.length !== x.shape.length) shapeRule('starts and ends need one entry per axis');
    const shape = x.shape.map((d, i) => {
      if (!(0 <= a.starts[i] && a.starts[i] <= a.ends[i] && a.ends[i] <= d)) shapeRule(`axis ${i}: range [${a.starts[i]}, ${a.ends[i]}) is outside [0, ${d}]`);
      return a.ends[i] - a.starts[i];
    });
    return { shape, dtype: x.dtype };
  },
  reference: ([x], a) => {
    const shape = x.shape.map((_, i) => a.ends[i] - a.starts[i]);
    const inStrides = stridesOf(x.shape);
    const outStrides = stridesOf(shape);
    const out = new Float64Array(numel(shape));
    for (let k = 0; k < out.length; k++) {
      let rem = k;
      let off = 0;
      for (let d = 0; d < shape.length; d++) {
        const i = Math.floor(rem / outStrides[d]);
        rem -= i * outStrides[d];
        off += (i + a.starts[d]) * inStrides[d];
      }
      out[k] = x.data[off];
    }
    return new NDArray(shape, x.dtype, out);
  },
  vjp: ({ grad, inputs: [x], attrs }) => [pad(grad, attrs.starts, x.shape.map((d, i) => d - attrs.ends[i]))],
  flops: zeroFlops,
});

defineOp<PadAttrs>({
  name: 'pad',
  kind: 'primitive',
  infer: ([x], a) => {
    if (a.before.length !== x.shape.length || a.after.length !== x.shape.length) shapeRule('before and after need one entry per axis');
    if ([...a.before, ...a.after].some((p) => !Number.isInteger(p) || p < 0)) shapeRule('padding must be non-negative integers');
    return { shape: x.shape.map((d, i) => d + a.before[i] + a.after[i]), dtype: x.dtype };
  },
  reference: ([x], a) => {
    const shape = x.shape.map((d, i) => d + a.before[i] + a.after[i]);
    const outStrides = stridesOf(shape);
    const inStrides = stridesOf(x.shape);
    const out = new Float64Array(numel(shape));
    for (let k = 0; k < x.size; k++) {
      let rem = k;
      let off = 0;
      for (let d = 0; d < x.shape.length; d++) {
        const i = Math.floor(rem / inStrides[d]);
        rem -= i * inStrides[d];
        off += (i + a.before[d]) * outStrides[d];
      }
      out[off] = x.data[k];
    }
    return new NDArray(shape, x.dtype, out);
  },
  vjp: ({ grad, inputs: [x], attrs }) => [slice(grad, attrs.before, x.shape.map((d, i) => attrs.before[i] + d))],
  flops: zeroFlops,
});

defineOp<ConcatAttrs>({
  name: 'concat',
  kind: 'primitive',
  infer: (inputs, a) => {
    if (inputs.length === 0) shapeRule('needs at least one input');
    const first = inputs[0];
    const axis = normalizeAxis(a.axis, first.shape.length);
    if (axis < 0) shapeRule(`axis ${a.axis} is out of range for rank ${first.shape.length}`);
    let total = 0;
    for (const t of inputs) {
      if (t.dtype !== first.dtype) shapeRule('inputs must share a dtype');
      if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        shapeRule(`inputs must agree on every axis but ${axis}`);
      }
      total += t.shape[axis];
    }
    return { shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype: first.dtype };
  },
  reference: (inputs, a) => {
    const axis = normalizeAxis(a.axis, inputs[0].shape.length);
    const shape = inputs[0].shape.map((d, i) => (i === axis ? inputs.reduce((s, t) => s + t.shape[axis], 0) : d));
    const outer = numel(shape.slice(0, axis));
    const out = new Float64Array(numel(shape));
    let o = 0;
    for (let b = 0; b < outer; b++) {
      for (const t of inputs) {
        const chunk = numel(t.shape.slice(axis));
        out.set(t.data.subarray(b * chunk, (b + 1) * chunk), o);
        o += chunk;
      }
    }
    return new NDArray(shape, inputs[0].dtype, out);
  },
  vjp: ({ grad, inputs, attrs, needs }) => {
    const axis = normalizeAxis(attrs.axis, grad.rank);
    let start = 0;
    return inputs.map((t, i) => {
      const s = start;
      start += t.shape[axis];
      if (!needs[i]) return null;
      return slice(grad, grad.shape.map((_, d) => (d === axis ? s : 0)), grad.shape.map((dd, d) => (d === axis ? s + t.shape[axis] : dd)));
    });
  },
  flops: zeroFlops,
});

defineOp<ShapeAttrs>({
  name: 'broadcastTo',
  kind: 'primitive',
  infer: ([x], a) => {
    const b = broadcastShapes(x.shape, a.shape);
    if (!b || !shapesEqual(b, a.shape)) shapeRule(`${formatShape(x.shape)} does not broadcast to ${formatShape(a.shape)}`);
    return { shape: a.shape, dtype: x.dtype };
  },
  reference: ([x], a) => {
    const idx = broadcastIndex(x.shape, a.shape);
    return new NDArray(a.shape, x.dtype, Float64Array.from(idx, (i) => x.data[i]));
  },
  vjp: ({ grad, inputs: [x] }) => [sumToShape(grad, x.shape)],
  flops: zeroFlops,
});

export { broadcastTo, concat, expandDims, pad, reshape, slice, sliceAxis, transpose, transposeLast2 } from './emit.js';

export type { ValueInfo };
