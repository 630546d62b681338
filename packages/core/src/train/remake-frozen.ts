import type { Graph } from '../graph/graph.js';
import { schedule } from '../graph/schedule.js';
import { emit, getOp } from '../ops/registry.js';
import { numel } from '../shape.js';

/** Values smaller than this (elements) are cheaper to keep than to make twice. */
export const REMAKE_MIN_ELEMENTS = 1 << 16;

/**
 * Values computed from frozen parameters only (a bf16 weight upcast to f32, a
 * 4-bit weight's absmax) that the forward pass makes and the backward pass
 * reads again would otherwise stay alive from the forward use to the backward
 * one: every layer's f32 weight at once, a full f32 copy of a 16-bit model.
 * This pass gives each backward reader its own copy, made from the frozen
 * parameters right before it is read (a cast or a dequantization costs one
 * pass over the weight, far less than the matmul that reads it), so the
 * forward copy dies after its forward use.
 *
 * `frozen(name)`: whether parameter `name` keeps its value during the step.
 * Returns the number of values remade.
 */
export function remakeFrozenValuesInBackward(graph: Graph, roots: readonly string[], frozen: (name: string) => boolean): number {
  const order = schedule(graph, roots);
  const derived = new Set<string>();
  for (const id of order) {
    const n = graph.node(id);
    if (n.op === 'param') {
      if (frozen(String(n.attrs.name))) derived.add(id);
    } else if (n.inputs.length > 0 && getOp(n.op).kind !== 'source' && n.inputs.every((i) => derived.has(i))) derived.add(id);
  }
  let remade = 0;
  for (const id of order) {
    const n = graph.node(id);
    if (n.backward || !derived.has(id) || n.op === 'param' || numel(n.shape) < REMAKE_MIN_ELEMENTS) continue;
    const readers = graph.consumers(id).filter((c) => graph.node(c).backward === true);
    for (const c of readers) {
      const reader = graph.node(c);
      // The copy carries the reader's module path and segments: the remat pass orders it with the reader.
      const copy = graph.inBackward(() => graph.at(reader.modulePath, reader.segments ?? [], () => remake(graph, id, derived)));
      graph.setInputs(
        c,
        reader.inputs.map((i) => (i === id ? copy : i)),
      );
      remade++;
    }
  }
  return remade;
}

/**
 * A new node computing the same frozen-derived value as `id` (its frozen-derived inputs remade too, parameters shared).
 * Recursion depth is the length of a chain of ops on frozen parameters (a cast, a dequantization), never the model's depth.
 */
function remake(graph: Graph, id: string, derived: ReadonlySet<string>): string {
  const n = graph.node(id);
  if (n.op === 'param' || !derived.has(id)) return id;
  const inputs = n.inputs.map((i) => graph.tensor(remake(graph, i, derived)));
  return emit(n.op, inputs, n.attrs, graph).id;
}
