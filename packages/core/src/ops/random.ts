import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { NDArray } from '../reference/ndarray.js';
import { stringKey, streamWord, uniformAt } from '../rng/counter-hash.js';
import { numel } from '../shape.js';
import { cast, div, greaterEqual, mul } from './elementwise.js';
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
