import { describe, expect, it } from 'vitest';
import { grad } from '../autodiff/grad.js';
import * as ops from '../ops/index.js';
import { erfScalar } from '../ops/elementwise.js';
import { defineOp, emit, getOp } from '../ops/registry.js';
import { evaluate } from '../reference/evaluate.js';
import { NDArray } from '../reference/ndarray.js';
import { expandComposite, expandComposites } from './expand-composites.js';
import { Graph } from './graph.js';
import { orderConstraintsOf, schedule, scheduleAfter } from './schedule.js';

// A composite whose expansion holds two composites (rmsNorm, then exact gelu) and a primitive.
defineOp<{ eps: number }>({
  name: 'test.normThenGelu',
  kind: 'composite',
  expand: ([x, w], a) => ops.add(ops.gelu(ops.rmsNorm(x, w, a.eps)), 1),
});

// Composites nested DEPTH deep: level k expands to level k-1 plus one; level 0 is x + 1.
// Each has a shape rule, so building them does not trace; only expandComposites walks the nesting.
const DEPTH = 4000;
for (let k = 0; k <= DEPTH; k++) {
  defineOp({
    name: `test.nested${k}`,
    kind: 'composite',
    infer: ([x]) => x,
    expand: ([x]) => ops.add(k === 0 ? x : emit(`test.nested${k - 1}`, [x]), 1),
  });
}

/** float64 reference of test.normThenGelu on rows of `x` (last axis `n`); scalar constants are stored as f32, as the graph stores them. */
function normThenGelu(x: readonly number[], w: readonly number[], n: number, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / n; r++) {
    const row = x.slice(r * n, (r + 1) * n);
    const inv = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / n + Math.fround(eps));
    for (let i = 0; i < n; i++) {
      const y = row[i] * inv * w[i];
      out.push(0.5 * y * (1 + erfScalar(y * Math.fround(Math.SQRT1_2))) + 1);
    }
  }
  return out;
}

const isComposite = (g: Graph, id: string) => getOp(g.node(id).op).kind === 'composite';

describe('expandComposites', () => {
  const x = [0.3, -1.2, 2.0, 0.7, -0.4, 1.5, 0.1, -2.2];
  const w = [1.1, 0.9, -0.5, 2.0];

  function build() {
    const g = new Graph();
    const xi = g.input('x', [2, 4]);
    const wi = g.param('w', [4], { trainable: true });
    const y = g.scope('block', () => g.segment('seg0', () => emit('test.normThenGelu', [xi, wi], { eps: 1e-5 })));
    g.output('y', y);
    return { g, y };
  }

  it('expands nested composites down to primitives, with the values of a float64 reference', () => {
    const { g, y } = build();
    const e = expandComposites(g, () => false);
    expect(e.graph.nodeIds().filter((id) => isComposite(e.graph, id))).toEqual([]);
    expect(e.expanded).toBe(3);
    expect(e.kept).toBe(0);
    // Every expansion node carries the module path and segment of the composite it came from.
    const inner = e.graph.nodeIds().filter((id) => !['input', 'param'].includes(e.graph.node(id).op));
    expect(inner.length).toBeGreaterThan(10);
    for (const id of inner) {
      expect(e.graph.node(id).modulePath).toBe('block');
      expect(e.graph.node(id).segments).toEqual(['seg0']);
      expect(e.originOf.get(id)).toBe(y.id);
    }
    // Creation order is a schedule: each node after its inputs.
    expect(schedule(e.graph)).toEqual(e.graph.nodeIds());
    const feeds = { x: new NDArray([2, 4], 'f32', Float64Array.from(x)), w: new NDArray([4], 'f32', Float64Array.from(w)) };
    const want = normThenGelu(x, w, 4, 1e-5);
    const got = evaluate(e.graph, feeds).get('y')!;
    got.data.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    expect(e.graph.params.get('w')?.trainable).toBe(true);
    expect(e.idOf.get(y.id)).toBe(e.graph.outputs.get('y'));
  });

  it('keeps the composites the predicate accepts, expanding around them', () => {
    const { g } = build();
    const e = expandComposites(g, (op) => op === 'rmsNorm');
    const composites = e.graph.nodeIds().filter((id) => isComposite(e.graph, id)).map((id) => e.graph.node(id).op);
    expect(composites).toEqual(['rmsNorm']);
    expect([e.expanded, e.kept]).toEqual([2, 1]);
    const one = expandComposite('test.normThenGelu', { eps: 1e-5 }, [g.node(g.inputs.get('x')!.id), g.node(g.params.get('w')!.id)], (op) => op === 'gelu');
    expect(one.graph.nodeIds().filter((id) => isComposite(one.graph, id)).map((id) => one.graph.node(id).op)).toEqual(['gelu']);
    expect(one.graph.node(one.graph.outputs.get('out')!).shape).toEqual([2, 4]);
  });

  it('carries recompute tags, backward flags and order-only constraints', () => {
    const g = new Graph();
    const a = g.input('a', [3]);
    const first = ops.silu(a);
    const second = g.inBackward(() => ops.silu(a));
    scheduleAfter(g, second.id, first.id);
    g.output('first', first);
    g.output('second', second);
    const e = expandComposites(g, () => false);
    const from = (src: string) => e.graph.nodeIds().filter((id) => e.originOf.get(id) === src);
    expect(from(second.id).every((id) => e.graph.node(id).backward === true)).toBe(true);
    expect(from(first.id).some((id) => e.graph.node(id).backward)).toBe(false);
    const constraints = orderConstraintsOf(e.graph);
    for (const id of from(second.id)) expect([...(constraints.get(id) ?? [])]).toEqual([e.idOf.get(first.id)]);
  });

  it(`walks ${DEPTH} levels of nesting without recursion`, () => {
    const g = new Graph();
    const input = g.input('x', [2]);
    g.output('y', emit(`test.nested${DEPTH}`, [input]));
    const e = expandComposites(g, () => false);
    expect(e.expanded).toBe(DEPTH + 1);
    const got = evaluate(e.graph, { x: new NDArray([2], 'f32', Float64Array.of(0.5, -3)) }).get('y')!;
    expect([...got.data]).toEqual([0.5 + DEPTH + 1, -3 + DEPTH + 1]);
  });

  it('autodiff through a composite without a VJP differentiates its expansion', () => {
    const { g, y } = build();
    const [dw] = grad(ops.sum(y), [g.paramTensor('w')]);
    g.output('dw', dw);
    const feeds = { x: new NDArray([2, 4], 'f32', Float64Array.from(x)), w: new NDArray([4], 'f32', Float64Array.from(w)) };
    const got = evaluate(g, feeds, ['dw']).get('dw')!;
    // Central differences of the float64 reference, step 1e-6.
    const h = 1e-6;
    const sum = (ww: number[]) => normThenGelu(x, ww, 4, 1e-5).reduce((s, v) => s + v, 0);
    w.forEach((_, i) => {
      const up = [...w];
      const down = [...w];
      up[i] += h;
      down[i] -= h;
      expect(got.data[i]).toBeCloseTo((sum(up) - sum(down)) / (2 * h), 6);
    });
  });
});
