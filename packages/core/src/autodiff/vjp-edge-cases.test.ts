import { describe, expect, it } from 'vitest';
import { evaluate, Graph, grad, NDArray, ops, vjp } from '../index.js';

function gradOf(shape: number[], x: number[], f: (t: ReturnType<Graph['input']>) => ReturnType<typeof ops.sum>): number[] {
  const g = new Graph();
  const t = g.input('x', shape);
  const [gx] = grad(f(t), [t]);
  g.output('gx', gx);
  return [...evaluate(g, { x: NDArray.from(shape, x) }).get('gx')!.data];
}

describe('VJP edge cases', () => {
  it('pow with exponent 0 has zero gradient everywhere, also at 0 (not NaN)', () => {
    expect(gradOf([3], [0, 2, -1], (x) => ops.sum(ops.pow(x, 0)))).toEqual([0, 0, 0]);
  });

  it('reduceMax shares the gradient equally between tied maxima', () => {
    expect(gradOf([4], [1, 3, 3, 2], (x) => ops.max(x))).toEqual([0, 0.5, 0.5, 0]);
  });

  it('relu at exactly 0 takes the subgradient 0', () => {
    expect(gradOf([3], [-1, 0, 2], (x) => ops.sum(ops.relu(x)))).toEqual([0, 0, 1]);
  });

  it('differentiating by an intermediate value and its input gives partial derivatives', () => {
    // Each wrt value is an independent variable: with h = exp(x) both in wrt, dL/dx holds h fixed (0 here),
    // which is what a composite's VJP needs when one of its inputs is computed from another.
    const g = new Graph();
    const x = g.input('x', [2]);
    const h = ops.exp(x);
    const loss = ops.sum(ops.mul(h, h));
    const [gh, gxPartial] = grad(loss, [h, x]);
    const [gxTotal] = grad(loss, [x]);
    g.output('gh', gh);
    g.output('gxPartial', gxPartial);
    g.output('gxTotal', gxTotal);
    const r = evaluate(g, { x: NDArray.from([2], [0, 1]) });
    const hv = [1, Math.E];
    expect([...r.get('gh')!.data]).toEqual(hv.map((v) => 2 * v));
    expect([...r.get('gxPartial')!.data]).toEqual([0, 0]);
    r.get('gxTotal')!.data.forEach((v, i) => expect(v).toBeCloseTo(2 * hv[i] * hv[i], 12));
  });

  it('vjp of several outputs sums their contributions', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const a = ops.mul(x, 3);
    const b = ops.exp(x);
    const [gx] = vjp([a, b], [g.input('ca', [2]), g.input('cb', [2])], [x]);
    g.output('gx', gx);
    const r = evaluate(g, { x: NDArray.from([2], [0, 1]), ca: NDArray.from([2], [1, 2]), cb: NDArray.from([2], [10, 1]) });
    expect([...r.get('gx')!.data]).toEqual([3 * 1 + 10 * 1, 3 * 2 + Math.E]);
  });

  it('a value the loss does not depend on gets a zero gradient of its shape', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const unused = g.input('u', [3, 2]);
    const [gu] = grad(ops.sum(x), [unused]);
    g.output('gu', gu);
    const r = evaluate(g, { x: NDArray.from([2], [1, 2]), u: NDArray.zeros([3, 2]) }).get('gu')!;
    expect(r.shape).toEqual([3, 2]);
    expect([...r.data]).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
