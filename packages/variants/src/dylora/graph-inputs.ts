import type { Graph, Tensor } from '@lowrank/core';

/** The graph input `name`, declared on first use so that every layer shares one. */
export function sharedInput(graph: Graph, name: string, shape: readonly number[]): Tensor {
  const known = graph.inputs.get(name);
  if (known) return graph.tensor(known.id);
  return graph.at('', [], () => graph.input(name, [...shape], 'f32'));
}
