import { UnsupportedOpError } from '../errors.js';
import { expandComposites, hasExpandableComposite } from '../graph/expand-composites.js';
import type { Graph } from '../graph/graph.js';
import { getOp } from '../ops/registry.js';
import type { BackendCapabilities } from './backend.js';

/** What a backend is asked to run that it cannot: an op (by name) or a dtype it lacks, and where. */
export interface UnsupportedUse {
  readonly op: string;
  readonly detail: string;
}

/**
 * Every use in `graph` that `capabilities` does not cover. A composite the
 * backend does not fuse is looked at through its expansion into primitives
 * (and the composites it fuses); nodes are named by the node of `graph` they
 * belong to.
 */
export function unsupportedUses(capabilities: BackendCapabilities, graph: Graph): UnsupportedUse[] {
  const keep = (op: string) => capabilities.fusedOps.has(op);
  const all = graph.nodeIds();
  const expanded = hasExpandableComposite(graph, all, keep) ? expandComposites(graph, keep) : undefined;
  const g = expanded?.graph ?? graph;
  const found = new Map<string, UnsupportedUse>();
  for (const id of g.nodeIds()) {
    const n = g.node(id);
    const origin = expanded ? graph.node(expanded.originOf.get(id)!) : n;
    const where = origin.modulePath ? ` in module '${origin.modulePath}'` : '';
    if (!capabilities.dtypes.includes(n.dtype)) {
      found.set(`${n.op}:${n.dtype}`, { op: n.op, detail: `dtype ${n.dtype} is not supported, node ${origin.id}${where}` });
    }
    const def = getOp(n.op);
    if (n.op === 'input' || n.op === 'param' || def.kind === 'source' || def.kind === 'composite') continue;
    if (!capabilities.ops.has(n.op) && !found.has(n.op)) {
      found.set(n.op, { op: n.op, detail: `needed by node ${origin.id}${where}` });
    }
  }
  return [...found.values()];
}

/** Throws UnsupportedOpError (naming the backend and the op) for the first use the backend cannot run. */
export function assertSupported(backend: { readonly name: string; readonly capabilities: BackendCapabilities }, graph: Graph): void {
  const [first] = unsupportedUses(backend.capabilities, graph);
  if (first) throw new UnsupportedOpError(backend.name, first.op, first.detail);
}
