import { NDArray } from '../reference/ndarray.js';
import { normalizeAxis, numel, type Shape } from '../shape.js';
import { gather, scatterAdd } from './emit.js';
import { defineOp, dtypeRule, shapeRule, type ValueInfo } from './registry.js';

type GatherAttrs = { axis: number };
type ScatterAttrs = { axis: number; size: number };

function gatherShape(table: Shape, indices: Shape, axis: number): number[] {
  return [...table.slice(0, axis), ...indices, ...table.slice(axis + 1)];
}

/** Rows of `table` along `axis` picked by i32 `indices` (embedding lookup). */
defineOp<GatherAttrs>({
  name: 'gather',
  kind: 'primitive',
  infer: ([table, idx], a) => {
    if (idx.dtype !== 'i32') dtypeRule(`indices must be i32, got ${idx.dtype}`);
    const axis = normalizeAxis(a.axis, table.shape.length);
    if (axis < 0) shapeRule(`axis ${a.axis} is out of range for rank ${table.shape.length}`);
    return { shape: gatherShape(table.shape, idx.shape, axis), dtype: table.dtype };
  },
  reference: ([table, idx], a) => {
    const axis = normalizeAxis(a.axis, table.shape.length);
    const outer = numel(table.shape.slice(0, axis));
    const inner = numel(table.shape.slice(axis + 1));
    const n = table.shape[axis];
    const out = new Float64Array(outer * idx.size * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idx.size; j++) {
        const r = idx.data[j];
        if (!(r >= 0 && r < n)) throw new RangeError(`gather: index ${r} is outside [0, ${n})`);
        out.set(table.data.subarray((o * n + r) * inner, (o * n + r + 1) * inner), (o * idx.size + j) * inner);
      }
    }
    return new NDArray(gatherShape(table.shape, idx.shape, axis), table.dtype, out);
  },
  vjp: ({ grad, inputs: [table, idx], attrs }) => [
    scatterAdd(grad, idx, normalizeAxis(attrs.axis, table.rank), table.shape[normalizeAxis(attrs.axis, table.rank)]),
    null,
  ],
  flops: () => 0,
});

/** The partner of gather: adds `updates` into `size` rows along `axis` at `indices`. */
defineOp<ScatterAttrs>({
  name: 'scatterAdd',
  kind: 'primitive',
  infer: ([upd, idx], a) => {
    if (idx.dtype !== 'i32') dtypeRule(`indices must be i32, got ${idx.dtype}`);
    const axis = a.axis;
    const head = upd.shape.slice(axis, axis + idx.shape.length);
    if (axis < 0 || head.length !== idx.shape.length || head.some((d, i) => d !== idx.shape[i])) {
      shapeRule(`updates must have the index shape [${idx.shape.join(', ')}] at axis ${axis}`);
    }
    return { shape: [...upd.shape.slice(0, axis), a.size, ...upd.shape.slice(axis + idx.shape.length)], dtype: upd.dtype };
  },
  reference: ([upd, idx], a) => {
    const outer = numel(upd.shape.slice(0, a.axis));
    const inner = numel(upd.shape.slice(a.axis + idx.shape.length));
    const shape = [...upd.shape.slice(0, a.axis), a.size, ...upd.shape.slice(a.axis + idx.shape.length)];
    const out = new Float64Array(numel(shape));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < idx.size; j++) {
        const r = idx.data[j];
        if (!(r >= 0 && r < a.size)) throw new RangeError(`scatterAdd: index ${r} is outside [0, ${a.size})`);
        const dst = (o * a.size + r) * inner;
        const src = (o * idx.size + j) * inner;
        for (let i = 0; i < inner; i++) out[dst + i] += upd.data[src + i];
      }
    }
    return new NDArray(shape, upd.dtype, out);
  },
  vjp: ({ grad, inputs: [, idx], attrs }) => [gather(grad, idx, attrs.axis), null],
});

export { gather, scatterAdd } from './emit.js';

export type { ValueInfo };
