import { Graph, getOp, schedule, type Attrs, type DType, type NodeData } from '@lowrank/core';

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
 * A composite runs fused when `fusedOps` has it, otherwise its expansion into
 * primitives is traced into a scratch graph and lowered in its place (with the
 * recompute tag carried over, so remat copies stay separate computations).
 */
export function lowerGraph(graph: Graph, rootIds: readonly string[], fusedOps: ReadonlySet<string>): LoweredProgram {
  const steps: Step[] = [];
  const leaves: LeafSlot[] = [];
  let slotCount = 0;
  let fused = 0;
  let expanded = 0;
  const slotOf = new Map<string, number>();

  const lowerInto = (g: Graph, ids: readonly string[], local: Map<string, number>, origin?: NodeData): void => {
    for (const id of ids) {
      const n = g.node(id);
      if (local.has(id)) continue;
      const def = getOp(n.op);
      if (n.op === 'input' || n.op === 'param') {
        // Only the top-level graph has real feeds; scratch inputs were bound by the caller.
        const slot = slotCount++;
        leaves.push({ slot, kind: n.op, name: String(n.attrs.name), node: n });
        local.set(id, slot);
        continue;
      }
      if (def.kind === 'source') {
        const slot = slotCount++;
        leaves.push({ slot, kind: 'source', name: `${origin?.id ?? ''}/${n.id}`, node: n });
        local.set(id, slot);
        continue;
      }
      const inputs = n.inputs.map((i) => local.get(i)!);
      const tagNode = origin ?? n;
      if (def.kind === 'composite' && !fusedOps.has(n.op)) {
        expanded++;
        const scratch = new Graph();
        const ins = n.inputs.map((i, k) => {
          const src = g.node(i);
          return scratch.input(`in${k}`, src.shape, src.dtype);
        });
        const out = def.expand!(ins, n.attrs);
        const inner = new Map<string, number>();
        ins.forEach((t, k) => inner.set(t.id, inputs[k]));
        lowerInto(scratch, schedule(scratch, [out.id]), inner, tagNode);
        local.set(id, inner.get(out.id)!);
        continue;
      }
      if (def.kind === 'composite') fused++;
      const slot = slotCount++;
      steps.push({
        op: n.op,
        inputs,
        attrs: n.attrs,
        shape: n.shape,
        dtype: n.dtype,
        out: slot,
        node: tagNode.id,
        recompute: tagNode.recomputeOf !== undefined,
      });
      local.set(id, slot);
    }
  };

  lowerInto(graph, schedule(graph, rootIds), slotOf);
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
