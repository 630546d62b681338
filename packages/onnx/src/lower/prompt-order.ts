import { getOp, numel, type Graph } from '@lowrank/core';

/*
 * ORT does not run nodes in the order of the model: it walks back from the
 * graph's outputs. A node whose result is read only at the end of the step (a
 * LoRA weight's gradient, read by the gradient norm and the optimizer update)
 * therefore runs at the end, and the large values it reads (a layer's
 * cotangent, the input of o_proj) stay alive across the whole backward pass:
 * two 4 MB values per layer of a 1.1B model, measured. Each such node gets a
 * reader soon after its place in the schedule: the next node that has a small
 * input takes that input through a gate on it (a 22-layer 1.1B-width QLoRA
 * step: 2,090 -> 1,963 MB peak RSS; a 4-layer one: 1,319 -> 1,224 MB).
 */

/** Schedule positions a result may wait for its first reader before it counts as late. */
export const LATE_READ_DISTANCE = 32;
/** Elements of the largest runtime input of a late node worth running early (1 MB as f32). */
export const LARGE_INPUT_ELEMENTS = 1 << 18;
/** Elements of an input a prompt-order gate may copy (a Where gate copies its input). */
export const SMALL_GATE_ELEMENTS = 1 << 16;
/** Schedule positions searched after a late node for one to gate. */
const SEARCH_WINDOW = 256;

const GATEABLE = new Set(['f32', 'i32', 'u8']);

/** One extra order edge: `node` reads `input` through a gate that waits for `after`. */
export interface PromptGate {
  readonly after: string;
  readonly input: string;
}

/**
 * Gates that make nodes reading large runtime values, whose result is small
 * and read late, run at their place in `order`. `constants`: values made from
 * frozen parameters only (never late; gated only where a node has no other
 * small input). `skip`: nodes lowered elsewhere (neither gated nor gating).
 */
export function promptOrderGates(graph: Graph, order: readonly string[], constants: ReadonlySet<string>, skip: ReadonlySet<string>): Map<string, PromptGate[]> {
  const position = new Map(order.map((id, i) => [id, i]));
  // Read late: every reader is far ahead in the schedule or read late itself (graph outputs are).
  const late = new Set<string>();
  for (let p = order.length - 1; p >= 0; p--) {
    const id = order[p];
    const readers = graph.consumers(id).filter((c) => position.has(c));
    if (readers.every((c) => late.has(c) || position.get(c)! - p > LATE_READ_DISTANCE)) late.add(id);
  }
  const runtime = (id: string) => !constants.has(id) && getOp(graph.node(id).op).kind !== 'source';
  const out = new Map<string, PromptGate[]>();
  order.forEach((id, p) => {
    const n = graph.node(id);
    if (!runtime(id) || skip.has(id) || !late.has(id)) return;
    // Only worth it when running the node lets a large input die: its result is much smaller.
    const largest = Math.max(0, ...n.inputs.filter(runtime).map((i) => numel(graph.node(i).shape)));
    if (largest < LARGE_INPUT_ELEMENTS || numel(n.shape) * 4 > largest) return;
    for (let q = p + 1; q < Math.min(order.length, p + SEARCH_WINDOW); q++) {
      const cand = order[q];
      const c = graph.node(cand);
      if (skip.has(cand) || !runtime(cand) || c.inputs.includes(id)) continue;
      // A small input, preferably not a constant (a gated constant is hidden from ORT's fusions); never a scalar.
      const smalls = c.inputs.filter((i) => i !== id && GATEABLE.has(graph.node(i).dtype) && graph.node(i).shape.length > 0 && numel(graph.node(i).shape) < SMALL_GATE_ELEMENTS);
      const small = smalls.find((i) => !constants.has(i)) ?? smalls[0];
      if (!small) continue;
      const list = out.get(cand) ?? [];
      list.push({ after: id, input: small });
      out.set(cand, list);
      return;
    }
  });
  return out;
}
