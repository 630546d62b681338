import { describe, expect, it } from 'vitest';
import { Graph, ops, schedule } from '@lowrank/core';
import { orderWithGates } from './recompute-order.js';

describe('orderWithGates', () => {
  const chain = () => {
    const g = new Graph();
    const x = g.input('x', [4], 'f32');
    const a = ops.exp(x);
    const b = ops.tanh(x);
    const c = ops.add(a, b);
    g.output('c', c);
    return { g, ids: { x: x.id, a: a.id, b: b.id, c: c.id }, order: schedule(g, [c.id]) };
  };

  it('keeps the schedule when no gate asks otherwise', () => {
    const { g, order } = chain();
    expect(orderWithGates(g, order, new Map())).toEqual({ order, stuck: [] });
  });

  it('moves a node after the later node it is gated on, changing nothing else', () => {
    const { g, ids, order } = chain();
    expect(order.indexOf(ids.a)).toBeLessThan(order.indexOf(ids.b));
    const placed = orderWithGates(g, order, new Map([[ids.a, [ids.b]]]));
    expect(placed.stuck).toEqual([]);
    expect(placed.order.indexOf(ids.a)).toBe(placed.order.indexOf(ids.b) + 1);
    expect(placed.order.filter((id) => id !== ids.a && id !== ids.b)).toEqual(order.filter((id) => id !== ids.a && id !== ids.b));
  });

  it('reports the nodes a cycle of gates keeps from being placed', () => {
    const { g, ids, order } = chain();
    // a waits on c, which reads a: neither can be placed.
    const placed = orderWithGates(g, order, new Map([[ids.a, [ids.c]]]));
    expect(new Set(placed.stuck)).toEqual(new Set([ids.a, ids.c]));
    expect(placed.order).toContain(ids.b);
  });
});
