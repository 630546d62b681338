import { describe, expect, it } from 'vitest';
import { Graph } from '../graph/graph.js';
import { orderConstraintsOf, schedule, scheduleAfter } from '../graph/schedule.js';
import * as ops from '../ops/index.js';
import { evaluate } from '../reference/evaluate.js';
import { rematerialize } from './apply.js';
import { checkpoint } from './checkpoint.js';
import { cloneGraph } from './clone-graph.js';
import { CheckpointError } from './errors.js';
import { buildMlp } from './models.test-support.js';
import { collectSegments } from './segments.js';

describe('checkpoint()', () => {
  it('tags the nodes it traces and returns what the function returns', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = checkpoint(g, 'block.0', () => ops.exp(ops.neg(x)));
    const z = ops.sum(y);
    expect(g.node(y.id).segments).toEqual(['block.0']);
    expect(g.node(z.id).segments).toEqual([]);
    expect(g.node(x.id).segments).toEqual([]);
  });

  it('folds a nested checkpoint into the outer segment, and rejects a reused name', () => {
    const g = new Graph();
    const x = g.input('x', [2]);
    const y = checkpoint(g, 'outer', () => checkpoint(g, 'inner', () => ops.exp(x)));
    expect(g.node(y.id).segments).toEqual(['outer', 'inner']);
    expect(collectSegments(g).map((s) => s.name)).toEqual(['outer']);
    expect(() => checkpoint(g, 'outer', () => x)).toThrow(CheckpointError);
    expect(() => checkpoint(g, '', () => x)).toThrow(/non-empty segment name/);
  });

  it('dropout inside a dropped segment is recomputed, not saved, with the same mask', () => {
    const m = buildMlp(4, { dropout: 0.5 });
    const before = evaluate(m.graph, m.feeds, m.outputs);
    rematerialize(m.graph, 'every:1', m.outputs);
    const copies = m.graph.nodeIds().filter((id) => m.graph.node(id).recomputeOf !== undefined && m.graph.node(id).op === 'dropout');
    expect(copies.length).toBe(3);
    for (const c of copies) expect(m.graph.node(c).attrs).toEqual(m.graph.node(m.graph.node(c).recomputeOf!).attrs);
    const after = evaluate(m.graph, m.feeds, m.outputs);
    for (const o of m.outputs) expect(after.get(o)!.data, o).toEqual(before.get(o)!.data);
    // The masks matter: without dropout the same weights give other gradients.
    const plain = buildMlp(4, { dropout: 0 });
    const noDrop = evaluate(plain.graph, plain.feeds, plain.outputs);
    expect(after.get('grad:mlp.0.fc1.weight')!.data).not.toEqual(noDrop.get('grad:mlp.0.fc1.weight')!.data);
  });
});

describe('order-only constraints', () => {
  it('schedule runs a node after its constraint, and otherwise in creation order', () => {
    const g = new Graph();
    const x = g.input('x', [1]);
    const a = ops.exp(x);
    const b = ops.neg(x);
    g.output('a', a);
    g.output('b', b);
    expect(schedule(g)).toEqual([x.id, a.id, b.id]);
    scheduleAfter(g, a.id, b.id);
    expect(schedule(g)).toEqual([x.id, b.id, a.id]);
    // A constraint on a node the roots do not need is ignored.
    expect(schedule(g, [a.id])).toEqual([x.id, a.id]);
    expect(orderConstraintsOf(g).get(a.id)).toEqual(new Set([b.id]));
  });

  it('cloneGraph copies nodes, names and constraints, and schedules the same way', () => {
    const m = buildMlp(3, { dropout: 0.1 });
    rematerialize(m.graph, 'every:1', m.outputs);
    const { graph: copy, idMap } = cloneGraph(m.graph);
    expect(copy.size).toBe(m.graph.size);
    expect([...copy.params.keys()]).toEqual([...m.graph.params.keys()]);
    const order = schedule(m.graph).map((id) => idMap.get(id));
    expect(schedule(copy)).toEqual(order);
    expect(orderConstraintsOf(copy).size).toBe(orderConstraintsOf(m.graph).size);
    const a = evaluate(m.graph, m.feeds, m.outputs);
    const b = evaluate(copy, m.feeds, m.outputs);
    for (const o of m.outputs) expect(b.get(o)!.data).toEqual(a.get(o)!.data);
  });
});
