import { descendants, getOp, MinHeap, orderConstraintsOf, type DType, type Graph } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import type { OnnxBuilder } from './onnx-builder.js';

/*
 * ONNX has no control edges and ORT picks its own topological order, which
 * may run a recomputed segment (or a VJP's re-expanded forward) right after
 * the forward pass, keeping its activations alive across the whole backward
 * and defeating checkpointing. So a node that must wait gets its inputs
 * through gates that depend on the node it must follow: ORT cannot start it
 * earlier. The order comes from core's order-only constraints (scheduleAfter,
 * set by the remat pass); for graphs without them, each recomputed node reading
 * a checkpointed value follows the backward node scheduled just before it.
 */

/** Node id -> ids of the nodes it must run after (all within `order`). */
export function orderGates(graph: Graph, order: readonly string[], constants: ReadonlySet<string> = new Set()): Map<string, string[]> {
  const inOrder = new Set(order);
  const gates = new Map<string, string[]>();
  const explicit = orderConstraintsOf(graph);
  if (explicit.size > 0) {
    for (const [id, befores] of explicit) {
      const deps = [...befores].filter((b) => inOrder.has(b) && b !== id);
      if (inOrder.has(id) && deps.length > 0) gates.set(id, deps);
    }
    return gates;
  }
  // Without constraints (no remat pass ran): a recomputed node, or a backward node that reads no
  // backward value (a VJP's re-expanded forward), follows the last cotangent-carrying backward
  // node scheduled before it, which is where core's schedule puts it.
  let lastCotangent: string | undefined;
  for (const id of order) {
    const n = graph.node(id);
    const readsBackward = n.inputs.some((i) => graph.node(i).backward === true);
    if (n.recomputeOf) {
      if (lastCotangent && n.inputs.some((i) => !graph.node(i).recomputeOf)) gates.set(id, [lastCotangent]);
    } else if (n.backward) {
      // A value made from constants only (a weight remade for the backward) has its own, later gate (foldGates).
      if (!readsBackward && n.inputs.length > 0 && lastCotangent && !constants.has(id)) gates.set(id, [lastCotangent]);
      if (readsBackward) lastCotangent = id;
    }
  }
  return gates;
}

const GATEABLE = new Set(['f32', 'i32', 'u8', 'bf16', 'f16']);

/**
 * The inputs of a node to gate: the values computed by the graph if it reads
 * any; otherwise (it reads only constants and parameters) all of them, so no
 * part of its lowering is left for ORT to constant-fold ahead of time.
 */
export function inputsToGate(graph: Graph, id: string, all = false): string[] {
  const n = graph.node(id);
  const gateable = n.inputs.filter((i) => GATEABLE.has(graph.node(i).dtype));
  if (all) return [...new Set(gateable)];
  const computed = gateable.filter((i) => !graph.node(i).recomputeOf && getOp(graph.node(i).op).kind !== 'source');
  return [...new Set(computed.length > 0 ? computed : gateable)];
}

/** Elements above which a value computed from constants only is not left to ORT's constant folding. */
export const FOLD_LIMIT_ELEMENTS = 1 << 16;

/** Values computed from frozen parameters only (the frozen parameters included), in `order`. */
export function constantValues(graph: Graph, order: readonly string[], isRuntimeParam: (name: string) => boolean): Set<string> {
  const constant = new Set<string>();
  for (const id of order) {
    const n = graph.node(id);
    if (n.op === 'param' && !isRuntimeParam(String(n.attrs.name))) constant.add(id);
    else if (n.inputs.length > 0 && getOp(n.op).kind !== 'source' && n.inputs.every((i) => constant.has(i))) constant.add(id);
  }
  return constant;
}

/**
 * Inside a composite's expansion (lowered on its own, after the whole graph's
 * fold gates were placed): the large values it computes from its constant
 * inputs only, a 16-bit table's upcast slice, say. They are gated on the
 * composite's runtime input, else ORT folds them into initializers. A gated
 * value counts as runtime for what follows, so a chain is gated once.
 */
export function expansionFoldGates(expanded: Graph, order: readonly string[], constantInputs: ReadonlySet<string>): Set<string> {
  const constant = new Set(constantInputs);
  const gated = new Set<string>();
  for (const id of order) {
    const n = expanded.node(id);
    if (constant.has(id) || n.inputs.length === 0 || getOp(n.op).kind === 'source' || !n.inputs.every((i) => constant.has(i))) continue;
    if (n.shape.reduce((p, d) => p * d, 1) >= FOLD_LIMIT_ELEMENTS) gated.add(id);
    else constant.add(id);
  }
  return gated;
}

/**
 * For every large value computed from frozen parameters only (an upcast bf16
 * weight, a dequantized 4-bit weight and its absmax), the runtime value to
 * gate it on. Gating on any runtime input stops ORT from folding it into a
 * second copy held for the session's lifetime, but ORT is then free to compute
 * it as soon as that input exists: gated on the graph's first input, every
 * layer's dequantized weight would be made at the start and held until its
 * backward use, a full f32 copy of the model. So the gate is the latest
 * runtime input of the value's use site (its first consumer that reads a
 * runtime value, through chains of constant consumers) that does not depend
 * on the value (core's schedule may place the value long before its use: a
 * weight remade for the backward, say); the graph's first runtime input only
 * when there is none. Where `late(id)` is false, only inputs scheduled before
 * the value (never a cycle with the order gates, which follow the schedule too).
 */
export function foldGates(
  graph: Graph,
  order: readonly string[],
  isRuntimeParam: (name: string) => boolean,
  late: (id: string) => boolean = () => true,
  constant: ReadonlySet<string> = constantValues(graph, order, isRuntimeParam),
): Map<string, string> {
  const position = new Map(order.map((id, i) => [id, i]));
  const anchor = order.find((id) => {
    const n = graph.node(id);
    return n.op === 'input' || (n.op === 'param' && isRuntimeParam(String(n.attrs.name)));
  });
  const useSite = (id: string): string | undefined => {
    let best: string | undefined;
    const seen = new Set<string>();
    const stack = [id];
    while (stack.length) {
      for (const c of graph.consumers(stack.pop()!)) {
        if (!position.has(c) || seen.has(c)) continue;
        seen.add(c);
        if (constant.has(c)) stack.push(c);
        else if (best === undefined || position.get(c)! < position.get(best)!) best = c;
      }
    }
    return best;
  };
  const out = new Map<string, string>();
  for (const id of order) {
    const n = graph.node(id);
    if (!constant.has(id) || getOp(n.op).kind === 'source' || n.shape.reduce((p, d) => p * d, 1) < FOLD_LIMIT_ELEMENTS) continue;
    const use = useSite(id);
    let dep: string | undefined;
    if (use) {
      // Any runtime input of the use site that does not itself depend on the value will do; the
      // latest one (in core's schedule) makes the value as late as possible. Only nodes scheduled
      // before the use site can be its inputs, so the search for dependents stops there.
      const limit = position.get(use)!;
      const downstream = descendants(graph, [id], (c) => (position.get(c) ?? limit) < limit);
      for (const i of graph.node(use).inputs) {
        const p = position.get(i);
        if (p === undefined || constant.has(i) || downstream.has(i) || (p >= position.get(id)! && !late(id))) continue;
        if (dep === undefined || p > position.get(dep)!) dep = i;
      }
    }
    dep ??= anchor;
    if (dep !== undefined) out.set(id, dep);
  }
  return out;
}

/**
 * `x`, but only once `dep` exists: Where(cond, x, x) with cond = bool(first
 * element of dep), built once per dep (see `gateCondition`). The condition has
 * shape [1], which broadcasts away unless x is a scalar; then it is reshaped to
 * []. (Extra nodes shift ORT's topological order, which measurably changed peak
 * memory, so gates stay as small as they can.) `alias`: gate through the
 * Reshape below (no copy) whatever the dtype; then its consumer must not be a
 * Reshape (ORT's fusion of the two fails at session creation).
 */
export function gateValue(b: OnnxBuilder, x: string, cond: string, shape: readonly number[], dtype: DType, alias = false): string {
  // ORT's CPU Where has no 16-bit float kernels: gate those through a Reshape whose target shape
  // is computed from the condition (Reshape aliases its input, so the gate copies nothing).
  if (alias || dtype === 'bf16' || dtype === 'f16') {
    const zero = b.op('Mul', [b.op('Cast', [cond], { to: OnnxDataType.INT64 }), b.int64s([0])]);
    return b.op('Reshape', [x, b.op('Add', [b.int64s(shape), zero])]);
  }
  return b.op('Where', [shape.length === 0 ? b.op('Reshape', [cond, b.int64s([])]) : cond, x, x]);
}

/** A [1] bool that exists only once `dep` does. */
export function gateCondition(b: OnnxBuilder, dep: string): string {
  const flat = b.op('Reshape', [dep, b.int64s([-1])]);
  const first = b.op('Slice', [flat, b.int64s([0]), b.int64s([1])]);
  return b.op('Cast', [first], { to: OnnxDataType.BOOL });
}

/**
 * `order` changed as little as possible so that every node comes after the
 * nodes it is gated on (a fold gate may wait for a value core schedules later):
 * a topological order of data and gate edges, ties broken by position in `order`.
 * `stuck`: the nodes a cycle of gates keeps from being placed (empty when none).
 */
export function orderWithGates(graph: Graph, order: readonly string[], gates: ReadonlyMap<string, readonly string[]>): { order: string[]; stuck: string[] } {
  const position = new Map(order.map((id, i) => [id, i]));
  const waiting = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const id of order) {
    const before = new Set([...graph.node(id).inputs, ...(gates.get(id) ?? [])].filter((d) => position.has(d)));
    waiting.set(id, before.size);
    for (const d of before) {
      const list = next.get(d);
      if (list) list.push(id);
      else next.set(d, [id]);
    }
  }
  // Positions of the nodes whose inputs and gates are all placed, earliest first.
  const heap = new MinHeap<number>((p, q) => p - q);
  for (const id of order) if (waiting.get(id) === 0) heap.push(position.get(id)!);
  const out: string[] = [];
  while (heap.size > 0) {
    const id = order[heap.pop()];
    out.push(id);
    for (const n of next.get(id) ?? []) {
      const left = waiting.get(n)! - 1;
      waiting.set(n, left);
      if (left === 0) heap.push(position.get(n)!);
    }
  }
  const placed = new Set(out);
  return { order: out, stuck: out.length === order.length ? [] : order.filter((id) => !placed.has(id)) };
}
