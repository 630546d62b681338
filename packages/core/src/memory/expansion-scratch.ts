import { Graph } from '../graph/graph.js';
import type { Attrs, NodeData } from '../graph/node.js';
import { getOp } from '../ops/registry.js';
import { planMemory, valueBytes, type PlanOptions } from './planner.js';

// Keyed by the node's attrs object (shared by recomputed copies) and its input shapes.
const cache = new WeakMap<Attrs, Map<string, number>>();

/**
 * Bytes a composite run as its expansion holds besides its inputs and its
 * output: the planned peak of the expansion traced on its own, less the
 * inputs (already live in the outer plan) and the output (counted there).
 * Exact when the expansion peaks as its output is made; otherwise low by at
 * most the output's size.
 */
export function expansionScratchBytes(graph: Graph, node: NodeData, options: PlanOptions): number {
  const inputs = node.inputs.map((i) => graph.node(i));
  const key = `${node.op}|${inputs.map((i) => `${i.dtype}[${i.shape.join(',')}]`).join(';')}`;
  let byKey = cache.get(node.attrs);
  if (!byKey) cache.set(node.attrs, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit !== undefined) return hit;
  const scratch = new Graph();
  const ts = inputs.map((v, i) => scratch.input(`in${i}`, v.shape, v.dtype));
  const out = getOp(node.op).expand!(ts, node.attrs);
  scratch.output('out', out);
  // planMemory and this function call each other only for composites nested inside a composite's
  // expansion: the depth is the nesting of composite definitions (a constant), not the graph's size.
  const peak = planMemory(scratch, ['out'], options).plannedPeakBytes;
  const held = inputs.reduce((s, v) => s + valueBytes(v.shape, v.dtype), 0) + valueBytes(out.shape, out.dtype);
  const bytes = Math.max(0, peak - held);
  byKey.set(key, bytes);
  return bytes;
}
