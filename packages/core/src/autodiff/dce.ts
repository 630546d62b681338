import type { Graph } from '../graph/graph.js';
import { ancestors } from '../graph/schedule.js';

/**
 * Removes every node that no named output (nor `keep`) depends on. Inputs and
 * parameters stay, so the graph's signature does not change.
 * Returns the number of nodes removed.
 */
export function eliminateDeadCode(graph: Graph, keep: readonly string[] = []): number {
  const live = ancestors(graph, [...graph.outputs.values(), ...keep]);
  let removed = 0;
  for (const id of graph.nodeIds()) {
    const op = graph.node(id).op;
    if (!live.has(id) && op !== 'input' && op !== 'param') {
      graph.removeNode(id);
      removed++;
    }
  }
  return removed;
}
