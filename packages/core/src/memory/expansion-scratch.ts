import { expandComposite } from '../graph/expand-composites.js';
import type { Graph } from '../graph/graph.js';
import type { NodeData } from '../graph/node.js';
import { planMemory, valueBytes, type PlanOptions } from './planner.js';

/**
 * Bytes a composite run as its expansion holds besides its inputs and its
 * output: the planned peak of its expansion on its own (composites in
 * `options.fusedOps` kept fused), less the inputs and the output. The planner
 * itself plans the expanded graph; this is for reports that want one node's share.
 */
export function expansionScratchBytes(graph: Graph, node: NodeData, options: PlanOptions): number {
  const inputs = node.inputs.map((i) => graph.node(i));
  const fused = options.fusedOps;
  const one = expandComposite(node.op, node.attrs, inputs, (op) => fused?.has(op) === true);
  // Fully expanded already: this plan expands nothing more, so the planner never calls back here.
  const peak = planMemory(one.graph, ['out'], options).plannedPeakBytes;
  const held = inputs.reduce((s, v) => s + valueBytes(v.shape, v.dtype), 0) + valueBytes(node.shape, node.dtype);
  return Math.max(0, peak - held);
}
