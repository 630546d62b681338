import { Graph } from '../graph/graph.js';
import { creationIndex, orderConstraintsOf, scheduleAfter } from '../graph/schedule.js';

/**
 * A structural copy of a graph for graph passes: same nodes in the same
 * creation order (so the same schedule), same parameter, input and output
 * names, same order-only constraints. Node ids may differ; `idMap` maps them.
 * Not meant for further tracing (random-op ordinals are not carried over).
 */
export function cloneGraph(graph: Graph): { graph: Graph; idMap: Map<string, string> } {
  const copy = new Graph();
  const idMap = new Map<string, string>();
  const ids = graph.nodeIds().sort((a, b) => creationIndex(a) - creationIndex(b));
  // Nodes first, in creation order (ids keep their relative order, so the schedule's
  // tie-breaking is the same), inputs after: a rewritten node may read a newer one.
  for (const id of ids) {
    const n = graph.node(id);
    const recomputeOf = n.recomputeOf === undefined ? undefined : (idMap.get(n.recomputeOf) ?? n.recomputeOf);
    const t = copy.addNode({
      op: n.op,
      inputs: [],
      attrs: n.attrs,
      shape: n.shape,
      dtype: n.dtype,
      modulePath: n.modulePath,
      segments: n.segments,
      backward: n.backward ?? false,
      ...(recomputeOf === undefined ? {} : { recomputeOf }),
    });
    idMap.set(id, t.id);
  }
  for (const id of ids) {
    const inputs = graph.node(id).inputs;
    if (inputs.length) copy.setInputs(idMap.get(id)!, inputs.map((i) => idMap.get(i)!));
  }
  for (const [name, p] of graph.params) copy.params.set(name, { ...p, id: idMap.get(p.id)! });
  for (const [name, i] of graph.inputs) copy.inputs.set(name, { ...i, id: idMap.get(i.id)! });
  for (const [name, id] of graph.outputs) copy.outputs.set(name, idMap.get(id)!);
  for (const [node, befores] of orderConstraintsOf(graph)) {
    for (const b of befores) if (idMap.has(node) && idMap.has(b)) scheduleAfter(copy, idMap.get(node)!, idMap.get(b)!);
  }
  return { graph: copy, idMap };
}
