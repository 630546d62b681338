import { NDArray } from '../reference/ndarray.js';
import { streamWord, uniformAt } from '../rng/counter-hash.js';
import { numel } from '../shape.js';
import { cast, div, greaterEqual, mul } from './emit.js';
import { defineOp, dtypeRule, emit, shapeRule } from './registry.js';

type RandomAttrs = { shape: readonly number[]; key: number };
type DropoutAttrs = { p: number; key: number };

/** Uniform [0, 1) noise from (seed, step) inputs and a static key. */
defineOp<RandomAttrs>({
  name: 'randomUniform',
  kind: 'primitive',
  infer: ([seed, step], a) => {
    if (seed.dtype !== 'i32' || step.dtype !== 'i32') dtypeRule('seed and step must be i32 scalars');
    if (seed.shape.length !== 0 || step.shape.length !== 0) shapeRule('seed and step must be scalars');
    return { shape: a.shape, dtype: 'f32' };
  },
  reference: ([seed, step], a) => {
    const stream = streamWord(seed.data[0], step.data[0], a.key);
    return new NDArray(a.shape, 'f32', Float64Array.from({ length: numel(a.shape) }, (_, i) => uniformAt(stream, i)));
  },
});

/** Inverted dropout: zero with probability p, scale the rest by 1/(1-p). */
defineOp<DropoutAttrs>({
  name: 'dropout',
  kind: 'composite',
  expand: ([x, seed, step], a) => {
    if (!(a.p >= 0 && a.p < 1)) shapeRule(`p must be in [0, 1), got ${a.p}`);
    const u = emit('randomUniform', [seed, step], { shape: [...x.shape], key: a.key });
    return div(mul(x, cast(greaterEqual(u, a.p), 'f32')), 1 - a.p);
  },
});

export { dropout, nextRandomKey, randomUniform } from './emit.js';
