import { castScalar, type DType } from '../dtype.js';
import { NDArray } from '../reference/ndarray.js';
import { numel } from '../shape.js';
import { defineOp, shapeRule } from './registry.js';

type ConstAttrs = { shape: readonly number[]; dtype: string; values: Float64Array };
type FillAttrs = { shape: readonly number[]; dtype: string; value: number };
type ArangeAttrs = { start: number; stop: number; step: number; dtype: string };

defineOp<ConstAttrs>({
  name: 'constant',
  kind: 'source',
  infer: (_i, a) => {
    if (a.values.length !== numel(a.shape)) shapeRule(`${a.values.length} values do not fill shape [${a.shape.join(', ')}]`);
    return { shape: a.shape, dtype: a.dtype as DType };
  },
  reference: (_i, a) => new NDArray(a.shape, a.dtype as DType, Float64Array.from(a.values, (v) => castScalar(v, a.dtype as DType))),
  flops: () => 0,
});

defineOp<FillAttrs>({
  name: 'fill',
  kind: 'source',
  infer: (_i, a) => ({ shape: a.shape, dtype: a.dtype as DType }),
  reference: (_i, a) => new NDArray(a.shape, a.dtype as DType, new Float64Array(numel(a.shape)).fill(castScalar(a.value, a.dtype as DType))),
  flops: () => 0,
});

function arangeLength(a: ArangeAttrs): number {
  return Math.max(0, Math.ceil((a.stop - a.start) / a.step));
}

defineOp<ArangeAttrs>({
  name: 'arange',
  kind: 'source',
  infer: (_i, a) => {
    if (a.step === 0) shapeRule('step must not be 0');
    return { shape: [arangeLength(a)], dtype: a.dtype as DType };
  },
  reference: (_i, a) => {
    const n = arangeLength(a);
    return new NDArray([n], a.dtype as DType, Float64Array.from({ length: n }, (_, i) => castScalar(a.start + i * a.step, a.dtype as DType)));
  },
  flops: () => 0,
});

export { arange, constant, fill, ones, scalar, zeros } from './emit.js';
