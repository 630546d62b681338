import type { Graph } from '../graph/graph.js';
import { CheckpointError } from './errors.js';

const usedNames = new WeakMap<Graph, Set<string>>();

/**
 * Marks the forward nodes `fn` builds as checkpoint segment `name` (typically
 * one transformer block) and returns what `fn` returns. Whether the segment
 * keeps its internals or recomputes them before its backward is decided at
 * compile time by a checkpoint policy; tracing is the same either way.
 * A checkpoint nested in another belongs to the outer one for the policies.
 */
export function checkpoint<T>(graph: Graph, name: string, fn: () => T): T {
  if (!name) throw new CheckpointError('checkpoint needs a non-empty segment name, such as the block path "model.layers.0"');
  let names = usedNames.get(graph);
  if (!names) usedNames.set(graph, (names = new Set()));
  if (names.has(name)) {
    throw new CheckpointError(`checkpoint segment '${name}' is already used in this graph; give every segment its own name (e.g. the block's module path)`);
  }
  names.add(name);
  return graph.segment(name, fn);
}
