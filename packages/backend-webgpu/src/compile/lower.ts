import { expandComposites, getOp, type Attrs, type DType, type Graph, type NodeData } from '@lowrank/core';

/** One kernel call: `op` (a primitive or a fused composite) reads value slots and writes one. */
export interface Step {
  readonly op: string;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly out: number;
  /** The graph node this step computes (or that its composite came from), for error messages. */
  readonly node: string;
  /** True when the node is a recomputed copy made by the remat pass. */
  readonly recompute: boolean;
}

/** A graph value that exists before the first step: fed each run, resident, or baked in. */
export interface LeafSlot {
  readonly slot: number;
  readonly kind: 'input' | 'param' | 'source';
  /** The feed or parameter name; for sources, the node id. */
  readonly name: string;
  readonly node: NodeData;
}

export interface LoweredProgram {
  readonly steps: readonly Step[];
  readonly leaves: readonly LeafSlot[];
  readonly slotCount: number;
  /** Slot of each graph node id that the schedule computed. */
  readonly slotOf: ReadonlyMap<string, number>;
  /** Composite nodes run as one fused kernel. */
  readonly fused: number;
  /** Composite nodes replaced by their expansion. */
  readonly expanded: number;
}

/**
 * Flattens the scheduled graph into kernel steps over numbered value slots.
 * A composite runs fused when `fusedOps` has it; core expands every other one
 * in place (expandComposites), and each step keeps the graph node it came
 * from, with its recompute tag, so remat copies stay separate computations.
 */
export function lowerGraph(graph: Graph, rootIds: readonly string[], fusedOps: ReadonlySet<string>): LoweredProgram {
  const steps: Step[] = [];
  const leaves: LeafSlot[] = [];
  let slotCount = 0;
  let fused = 0;
  const { graph: flat, order, idOf, originOf, expanded } = expandComposites(graph, (op) => fusedOps.has(op), rootIds);
  const slotOfFlat = new Map<string, number>();

  for (const id of order) {
    const n = flat.node(id);
    const origin = graph.node(originOf.get(id)!);
    const def = getOp(n.op);
    const slot = slotCount++;
    slotOfFlat.set(id, slot);
    if (n.op === 'input' || n.op === 'param') {
      leaves.push({ slot, kind: n.op, name: String(n.attrs.name), node: n });
      continue;
    }
    if (def.kind === 'source') {
      // Named by the graph node it is, or by the composite whose expansion made it and its id there.
      const fromExpansion = getOp(origin.op).kind === 'composite';
      leaves.push({ slot, kind: 'source', name: fromExpansion ? `${origin.id}/${n.id}` : `/${origin.id}`, node: n });
      continue;
    }
    if (def.kind === 'composite') fused++;
    steps.push({
      op: n.op,
      inputs: n.inputs.map((i) => slotOfFlat.get(i)!),
      attrs: n.attrs,
      shape: n.shape,
      dtype: n.dtype,
      out: slot,
      node: origin.id,
      recompute: origin.recomputeOf !== undefined,
    });
  }
  const slotOf = new Map<string, number>();
  for (const [from, to] of idOf) if (slotOfFlat.has(to)) slotOf.set(from, slotOfFlat.get(to)!);
  return { steps, leaves, slotCount, slotOf, fused, expanded };
}

/**
 * For every slot, the index of the last step that reads it (-1 when no step
 * does). A slot can be released right after that step.
 */
export function lastUses(program: LoweredProgram): Int32Array {
  const last = new Int32Array(program.slotCount).fill(-1);
  program.steps.forEach((s, i) => {
    for (const slot of s.inputs) last[slot] = i;
  });
  return last;
}
