import type { Graph } from '../graph/graph.js';
import { creationIndex } from '../graph/schedule.js';

/** One checkpoint segment: the forward nodes traced inside it, in creation order. */
export interface SegmentInfo {
  readonly name: string;
  readonly index: number;
  readonly nodes: readonly string[];
}

const isLeaf = (op: string) => op === 'input' || op === 'param';

/** The outermost checkpoint segment of a node, if any. */
export const segmentOf = (graph: Graph, id: string): string | undefined => graph.node(id).segments[0];

/**
 * The graph's segments in forward order (by their first node). Nested segments
 * fold into their outermost one. Parameters and inputs declared inside a
 * segment are leaves, never recomputed, so they are left out.
 */
export function collectSegments(graph: Graph): SegmentInfo[] {
  const byName = new Map<string, string[]>();
  const ids = graph.nodeIds().sort((a, b) => creationIndex(a) - creationIndex(b));
  for (const id of ids) {
    const n = graph.node(id);
    if (n.backward || n.recomputeOf !== undefined || isLeaf(n.op) || n.segments.length === 0) continue;
    const name = n.segments[0];
    const list = byName.get(name) ?? [];
    list.push(id);
    byName.set(name, list);
  }
  return [...byName].map(([name, nodes], index) => ({ name, index, nodes }));
}
