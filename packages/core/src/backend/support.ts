import { UnsupportedOpError } from '../errors.js';
import { Graph } from '../graph/graph.js';
import type { NodeData } from '../graph/node.js';
import { getOp } from '../ops/registry.js';
import type { BackendCapabilities } from './backend.js';

/** What a backend is asked to run that it cannot: an op (by name) or a dtype it lacks, and where. */
export interface UnsupportedUse {
  readonly op: string;
  readonly detail: string;
}

/**
 * Every use in `graph` that `capabilities` does not cover. A composite the
 * backend does not fuse is looked at through its expansion into primitives.
 */
export function unsupportedUses(capabilities: BackendCapabilities, graph: Graph): UnsupportedUse[] {
  const found = new Map<string, UnsupportedUse>();
  const visit = (g: Graph, n: NodeData) => {
    const def = getOp(n.op);
    const where = n.modulePath ? ` in module '${n.modulePath}'` : '';
    if (!capabilities.dtypes.includes(n.dtype)) {
      found.set(`${n.op}:${n.dtype}`, { op: n.op, detail: `dtype ${n.dtype} is not supported, node ${n.id}${where}` });
    }
    if (n.op === 'input' || n.op === 'param' || def.kind === 'source') return;
    if (def.kind === 'composite') {
      if (capabilities.fusedOps.has(n.op)) return;
      const scratch = new Graph();
      const ins = n.inputs.map((i, k) => {
        const src = g.node(i);
        return scratch.input(`in${k}`, src.shape, src.dtype);
      });
      def.expand!(ins, n.attrs);
      // Recursion only into a composite's own expansion: its depth is the nesting of composites
      // (a constant per op), never the size or depth of the graph.
      for (const id of scratch.nodeIds()) visit(scratch, scratch.node(id));
      return;
    }
    if (!capabilities.ops.has(n.op) && !found.has(n.op)) {
      found.set(n.op, { op: n.op, detail: `needed by node ${n.id}${where}` });
    }
  };
  for (const id of graph.nodeIds()) visit(graph, graph.node(id));
  return [...found.values()];
}

/** Throws UnsupportedOpError (naming the backend and the op) for the first use the backend cannot run. */
export function assertSupported(backend: { readonly name: string; readonly capabilities: BackendCapabilities }, graph: Graph): void {
  const [first] = unsupportedUses(backend.capabilities, graph);
  if (first) throw new UnsupportedOpError(backend.name, first.op, first.detail);
}
