// Finite-difference gradient checking on the float64 reference evaluator.
// A case builds one op application; the checker compares the analytic VJP of
// L(x) = sum(op(x) · u), u a random cotangent, against central differences.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { evaluate, Graph, grad, NDArray, ops, type DType, type Tensor } from '../../src/index.js';
import { numel, type Shape } from '../../src/shape.js';

export interface InputSpec {
  readonly shape: Shape;
  readonly dtype?: DType;
  /** Draws every element of the input (row-major), already in the op's differentiable domain. */
  readonly values: fc.Arbitrary<number[]>;
}

export interface GradCase {
  /** Registry name of the op under test; the built graph must contain a node of it. */
  readonly op: string;
  readonly label: string;
  readonly inputs: readonly InputSpec[];
  readonly build: (xs: Tensor[]) => Tensor;
  /** fast-check runs for this case (default 10); large inputs use fewer. */
  readonly numRuns?: number;
}

/** A case's graph, built once and evaluated for every drawn input. */
export interface PreparedCase {
  readonly graph: Graph;
  readonly outShape: Shape;
  /** Input positions that are f32 (the ones differentiated). */
  readonly floatInputs: readonly number[];
  readonly opsInGraph: ReadonlySet<string>;
}

export function prepare(c: GradCase): PreparedCase {
  const g = new Graph();
  const xs = c.inputs.map((s, i) => g.input(`x${i}`, s.shape, s.dtype ?? 'f32'));
  const out = c.build(xs);
  const ct = g.input('cotangent', out.shape, 'f32');
  const loss = ops.sum(ops.mul(out, ct));
  const floatInputs = xs.flatMap((x, i) => (x.dtype === 'f32' ? [i] : []));
  const grads = grad(
    loss,
    floatInputs.map((i) => xs[i]),
  );
  g.output('loss', loss);
  grads.forEach((t, k) => g.output(`grad${floatInputs[k]}`, t));
  const opsInGraph = new Set(g.nodeIds().map((id) => g.node(id).op));
  return { graph: g, outShape: out.shape, floatInputs, opsInGraph };
}

export interface GradCheckResult {
  /** Largest elementwise |analytic - numeric| / max(|analytic|, |numeric|, 1e-3). */
  readonly maxRelError: number;
  readonly worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/**
 * Central differences with one Richardson step: D = (4·D(h/2) - D(h)) / 3,
 * accurate to O(h⁴), so h can stay large enough to keep rounding error small.
 */
export function gradCheck(c: GradCase, p: PreparedCase, values: readonly number[][], cotangent: readonly number[], h = 1e-3): GradCheckResult {
  const feeds: Record<string, NDArray> = { cotangent: NDArray.from(p.outShape, cotangent) };
  c.inputs.forEach((s, i) => (feeds[`x${i}`] = NDArray.from(s.shape, values[i], s.dtype ?? 'f32')));
  const analytic = evaluate(
    p.graph,
    feeds,
    p.floatInputs.map((i) => `grad${i}`),
  );
  const lossAt = (input: number, index: number, delta: number): number => {
    const data = feeds[`x${input}`].data.slice();
    data[index] += delta;
    const shifted = { ...feeds, [`x${input}`]: new NDArray(c.inputs[input].shape, 'f32', data) };
    return evaluate(p.graph, shifted, ['loss']).get('loss')!.data[0];
  };
  const central = (input: number, index: number, step: number) => (lossAt(input, index, step) - lossAt(input, index, -step)) / (2 * step);

  let maxRelError = 0;
  let worst: GradCheckResult['worst'] = null;
  for (const i of p.floatInputs) {
    const a = analytic.get(`grad${i}`)!.data;
    for (let k = 0; k < a.length; k++) {
      const numeric = (4 * central(i, k, h / 2) - central(i, k, h)) / 3;
      const err = Math.abs(a[k] - numeric) / Math.max(Math.abs(a[k]), Math.abs(numeric), 1e-3);
      if (!(err <= maxRelError)) {
        maxRelError = Number.isNaN(err) ? Infinity : err;
        worst = { input: i, index: k, analytic: a[k], numeric };
      }
    }
  }
  return { maxRelError, worst };
}

// ---- arbitraries for inputs in a differentiable domain --------------------

const double = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/** n values uniform in [lo, hi]. */
export const uniform = (shape: Shape, lo = -2, hi = 2): fc.Arbitrary<number[]> =>
  fc.array(double(lo, hi), { minLength: numel(shape), maxLength: numel(shape) });

/** Values with |v| in [lo, hi]: keeps relu, div and friends away from 0. */
export const awayFromZero = (shape: Shape, lo = 0.2, hi = 2): fc.Arbitrary<number[]> =>
  fc.array(
    fc.tuple(fc.boolean(), double(lo, hi)).map(([neg, v]) => (neg ? -v : v)),
    { minLength: numel(shape), maxLength: numel(shape) },
  );

/** Pairwise distinct values on a grid of spacing `gap`: no ties for max. */
export const distinct = (shape: Shape, gap = 0.05): fc.Arbitrary<number[]> =>
  fc
    .uniqueArray(fc.integer({ min: -40, max: 40 }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((ks) => ks.map((k) => k * gap));

/** Values on the grid k·0.1 + offset; two grids with different offsets never tie. */
export const grid = (shape: Shape, offset: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: -20, max: 20 }), { minLength: numel(shape), maxLength: numel(shape) }).map((ks) => ks.map((k) => k * 0.1 + offset));

export const ints = (shape: Shape, lo: number, hi: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: lo, max: hi }), { minLength: numel(shape), maxLength: numel(shape) });

export const bools = (shape: Shape): fc.Arbitrary<number[]> => ints(shape, 0, 1);

/** Class labels in [0, vocab) with some set to the ignore index -100. */
export const labels = (shape: Shape, vocab: number): fc.Arbitrary<number[]> =>
  fc.array(
    fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: vocab - 1 }) }, { weight: 1, arbitrary: fc.constant(-100) }),
    { minLength: numel(shape), maxLength: numel(shape) },
  );

export const f32 = (shape: Shape, values: fc.Arbitrary<number[]> = uniform(shape)): InputSpec => ({ shape, values });
export const i32 = (shape: Shape, values: fc.Arbitrary<number[]>): InputSpec => ({ shape, dtype: 'i32', values });
export const u8 = (shape: Shape): InputSpec => ({ shape, dtype: 'u8', values: ints(shape, 0, 255) });
export const bool = (shape: Shape): InputSpec => ({ shape, dtype: 'bool', values: bools(shape) });

/** Registers one vitest case per gradient case: fast-check draws inputs (fixed seed), the checker compares. */
export function runGradCases(cases: readonly GradCase[], seed: number, bound = 1e-6): void {
  for (const c of cases) {
    it(`${c.op}: ${c.label}`, () => {
      const p = prepare(c);
      expect(p.opsInGraph.has(c.op), `graph of case '${c.label}' has no ${c.op} node`).toBe(true);
      const arb = fc.tuple(fc.tuple(...c.inputs.map((s) => s.values)), uniform(p.outShape, -1, 1));
      fc.assert(
        fc.property(arb, ([values, cotangent]) => {
          const r = gradCheck(c, p, values, cotangent);
          expect(r.maxRelError, JSON.stringify(r.worst)).toBeLessThan(bound);
        }),
        { seed, numRuns: c.numRuns ?? 10 },
      );
    });
  }
}
