import { GraphError } from '../errors.js';
import { getOp, type OpDef, type ValueInfo } from '../ops/op-defs.js';
import { Graph } from './graph.js';
import type { Attrs, NodeData } from './node.js';
import { orderConstraintsOf, schedule, scheduleAfter } from './schedule.js';
import type { Tensor } from './tensor.js';

// The one module that traces composite expansions. Every other pass (autodiff,
// the float64 evaluator, the memory planner, backend support checks, the ONNX
// and WebGPU lowerings) calls in here; core/src/architecture.test.ts checks it.

/** Which composites stay as one node (a backend's fused kernels); every other composite is expanded. */
export type KeepComposite = (op: string) => boolean;

export interface ExpandedGraph {
  readonly graph: Graph;
  /** Every node of `graph` in creation order, which is a schedule of it (inputs first, order-only constraints kept). */
  readonly order: readonly string[];
  /** Source node id -> id of the node computing the same value in `graph` (nodes the roots need). */
  readonly idOf: ReadonlyMap<string, string>;
  /** Node id in `graph` -> the source node it came from: its copy, or the composite whose expansion made it. */
  readonly originOf: ReadonlyMap<string, string>;
  /** Composite nodes replaced by their expansion (nested ones counted too), and composite nodes kept. */
  readonly expanded: number;
  readonly kept: number;
}

function compositeDef(op: string): OpDef {
  const def = getOp(op);
  if (def.kind !== 'composite' || !def.expand) throw new GraphError(`'${op}' is a ${def.kind} op, not a composite: it has no expansion to trace`);
  return def;
}

/**
 * Emits one level of a composite's expansion on `inputs`, in their graph:
 * composites inside it stay as nodes. Autodiff differentiates this locally
 * when a composite has no VJP of its own.
 */
export function emitExpansion(op: string, inputs: readonly Tensor[], attrs: Attrs): Tensor {
  return compositeDef(op).expand!(inputs, attrs);
}

/** Output shape and dtype of a composite without a shape rule: its expansion traced on placeholder inputs. */
export function traceExpansionInfo(def: OpDef, inputs: readonly ValueInfo[], attrs: Attrs): ValueInfo {
  const scratch = new Graph();
  const out = emitExpansion(
    def.name,
    inputs.map((v, i) => scratch.input(`in${i}`, v.shape, v.dtype)),
    attrs,
  );
  return { shape: out.shape, dtype: out.dtype };
}

/** A graph being copied: its schedule, how far the copy got, and where its values went. */
interface Frame {
  readonly source: Graph;
  readonly order: readonly string[];
  next: number;
  readonly local: Map<string, string>;
  /** The top-level source node whose expansion this frame is (undefined for the top level itself). */
  readonly origin?: NodeData;
  /** Set on a composite's frame: where to store its output once the frame is done. */
  readonly done?: (outputId: string) => void;
  readonly outputId?: string;
}

/**
 * A copy of `source` (the nodes `roots` need; all nodes when omitted) in which
 * every composite that `keep` rejects is replaced by its expansion into
 * primitives and kept composites, nested composites included. Iterative: a
 * stack of frames, one per composite being expanded, so the depth of JS calls
 * does not grow with nesting or graph size. The copy's creation order is the
 * source schedule with each expansion inlined where its composite ran, so
 * `schedule(copy)` runs values in the order the source schedule implies.
 * Expansion nodes inherit the composite's module path, segments, backward
 * flag and recompute tag. Inputs, parameters, named outputs and order-only
 * constraints carry over.
 */
export function expandComposites(source: Graph, keep: KeepComposite, roots?: readonly string[]): ExpandedGraph {
  const target = new Graph();
  const idOf = new Map<string, string>();
  const originOf = new Map<string, string>();
  let expanded = 0;
  let kept = 0;
  const rootIds = roots?.map((r) => source.outputs.get(r) ?? r);
  const stack: Frame[] = [{ source, order: schedule(source, rootIds), next: 0, local: idOf }];

  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.next === frame.order.length) {
      stack.pop();
      frame.done?.(frame.local.get(frame.outputId!)!);
      continue;
    }
    const id = frame.order[frame.next++];
    if (frame.local.has(id)) continue; // a composite's inputs, bound by its caller
    const node = frame.source.node(id);
    const origin = frame.origin ?? node;
    const inputs = node.inputs.map((i) => frame.local.get(i)!);
    const def = getOp(node.op);
    if (def.kind === 'composite' && !keep(node.op)) {
      expanded++;
      stack.push(traceFrame(node, inputs, origin, target, (out) => frame.local.set(id, out)));
      continue;
    }
    if (def.kind === 'composite') kept++;
    const copy = target.addNode({
      op: node.op,
      inputs,
      attrs: node.attrs,
      shape: node.shape,
      dtype: node.dtype,
      modulePath: origin.modulePath,
      segments: origin.segments,
      backward: origin.backward === true,
      ...(origin.recomputeOf !== undefined ? { recomputeOf: idOf.get(origin.recomputeOf) ?? origin.recomputeOf } : {}),
    });
    frame.local.set(id, copy.id);
    originOf.set(copy.id, origin.id);
    // Only the top level has real feeds; inputs of a traced expansion were bound above.
    if (!frame.origin && node.op === 'input') target.inputs.set(String(node.attrs.name), { ...source.inputs.get(String(node.attrs.name))!, id: copy.id });
    if (!frame.origin && node.op === 'param') target.params.set(String(node.attrs.name), { ...source.params.get(String(node.attrs.name))!, id: copy.id });
  }

  for (const [name, id] of source.outputs) {
    const to = idOf.get(id);
    if (to !== undefined) target.outputs.set(name, to);
  }
  carryOrderConstraints(source, target, idOf, originOf);
  return { graph: target, order: target.nodeIds(), idOf, originOf, expanded, kept };
}

/** Traces `node`'s expansion into a scratch graph and returns the frame that copies it into `target`. */
function traceFrame(node: NodeData, inputs: readonly string[], origin: NodeData, target: Graph, done: (out: string) => void): Frame {
  const scratch = new Graph();
  const local = new Map<string, string>();
  const ins = node.inputs.map((i, k) => {
    const t = scratch.input(`in${k}`, target.node(inputs[k]).shape, target.node(inputs[k]).dtype);
    local.set(t.id, inputs[k]);
    return t;
  });
  const out = emitExpansion(node.op, ins, node.attrs);
  return { source: scratch, order: schedule(scratch, [out.id]), next: 0, local, origin, done, outputId: out.id };
}

/** An order-only constraint on a source node holds for every node made from it. */
function carryOrderConstraints(source: Graph, target: Graph, idOf: ReadonlyMap<string, string>, originOf: ReadonlyMap<string, string>): void {
  const constraints = orderConstraintsOf(source);
  if (constraints.size === 0) return;
  for (const [id, from] of originOf) {
    for (const before of constraints.get(from) ?? []) {
      const to = idOf.get(before);
      if (to !== undefined && to !== id) scheduleAfter(target, id, to);
    }
  }
}

/**
 * One composite application expanded on its own: a graph with inputs `in0`,
 * `in1`, ... of the given shapes and the output `out`, holding only primitives
 * and the composites `keep` accepts. For lowerings that expand node by node.
 */
export function expandComposite(op: string, attrs: Attrs, inputs: readonly ValueInfo[], keep: KeepComposite): ExpandedGraph {
  const one = new Graph();
  const ins = inputs.map((v, i) => one.input(`in${i}`, v.shape, v.dtype).id);
  const def = compositeDef(op);
  const info = def.infer ? def.infer(inputs, attrs) : traceExpansionInfo(def, inputs, attrs);
  one.output('out', one.addNode({ op, inputs: ins, attrs, shape: info.shape, dtype: info.dtype }));
  return expandComposites(one, keep);
}

/** True when some node of `ids` is a composite that `keep` rejects (nothing to expand otherwise). */
export function hasExpandableComposite(graph: Graph, ids: Iterable<string>, keep: KeepComposite): boolean {
  for (const id of ids) {
    const op = graph.node(id).op;
    if (getOp(op).kind === 'composite' && !keep(op)) return true;
  }
  return false;
}
