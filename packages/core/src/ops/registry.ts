import type { DType } from '../dtype.js';
import { DTypeError, GraphError, ShapeError, UnknownOpError } from '../errors.js';
import { Graph } from '../graph/graph.js';
import type { Attrs } from '../graph/node.js';
import { Tensor } from '../graph/tensor.js';
import type { NDArray } from '../reference/ndarray.js';
import { numel, type Shape } from '../shape.js';

/** Shape and dtype of a value, as op rules see it. */
export interface ValueInfo {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** What an op's VJP receives: its inputs and output in the graph, the cotangent, and which inputs need one. */
export interface VjpArgs<A extends Attrs = Attrs> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly grad: Tensor;
  readonly attrs: A;
  readonly needs: readonly boolean[];
}

export type VjpFn<A extends Attrs = Attrs> = (args: VjpArgs<A>) => readonly (Tensor | null)[];

/**
 * One op, declared once: shape and dtype rule, VJP written with other ops,
 * float64 reference kernel (primitives) or expansion into primitives (composites).
 */
export interface OpDef<A extends Attrs = Attrs> {
  readonly name: string;
  /** source: graph leaves (inputs, params, constants); primitive: backends implement it; composite: defined by `expand`. */
  readonly kind: 'source' | 'primitive' | 'composite';
  /** Returns the output shape and dtype, or throws a RuleViolation. Composites may omit it (inferred by tracing `expand`). */
  readonly infer?: (inputs: readonly ValueInfo[], attrs: A) => ValueInfo;
  /** Absent on a primitive: the op is not differentiable (integer or boolean output, or a constant). */
  readonly vjp?: VjpFn<A>;
  readonly reference?: (inputs: readonly NDArray[], attrs: A) => NDArray;
  readonly expand?: (inputs: readonly Tensor[], attrs: A) => Tensor;
  /** Floating-point operations for one evaluation (default: one per output element). */
  readonly flops?: (inputs: readonly ValueInfo[], output: ValueInfo, attrs: A) => number;
}

/** Thrown by shape rules; `emit` turns it into a ShapeError or DTypeError with the op and module path. */
export class RuleViolation extends Error {
  constructor(
    readonly kind: 'shape' | 'dtype',
    detail: string,
  ) {
    super(detail);
  }
}

export const shapeRule = (detail: string): never => {
  throw new RuleViolation('shape', detail);
};
export const dtypeRule = (detail: string): never => {
  throw new RuleViolation('dtype', detail);
};

const registry = new Map<string, OpDef>();

export function defineOp<A extends Attrs>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new GraphError(`op '${def.name}' is declared twice`);
  if (def.kind === 'primitive' && !def.reference) throw new GraphError(`primitive '${def.name}' needs a reference kernel`);
  if (def.kind === 'composite' && !def.expand) throw new GraphError(`composite '${def.name}' needs an expansion`);
  registry.set(def.name, def as unknown as OpDef);
  return def;
}

export function getOp(name: string): OpDef {
  const def = registry.get(name);
  if (!def) throw new UnknownOpError(name, [...registry.keys()].sort());
  return def;
}

export function listOps(kind?: OpDef['kind']): OpDef[] {
  return [...registry.values()].filter((d) => !kind || d.kind === kind);
}

/** Output shape and dtype of an op applied to values, with errors naming the op and module. */
export function inferOp(def: OpDef, inputs: readonly ValueInfo[], attrs: Attrs, modulePath: string): ValueInfo {
  try {
    if (def.infer) return def.infer(inputs, attrs);
    return inferByTracing(def, inputs, attrs);
  } catch (e) {
    if (e instanceof RuleViolation) {
      if (e.kind === 'shape') throw new ShapeError(def.name, inputs.map((i) => i.shape), modulePath, e.message);
      throw new DTypeError(def.name, inputs.map((i) => i.dtype), modulePath, e.message);
    }
    if (e instanceof ShapeError && e.op !== def.name) {
      throw new ShapeError(def.name, inputs.map((i) => i.shape), modulePath, `inside its expansion: ${e.message}`);
    }
    if (e instanceof DTypeError && e.op !== def.name) {
      throw new DTypeError(def.name, inputs.map((i) => i.dtype), modulePath, `inside its expansion: ${e.message}`);
    }
    throw e;
  }
}

function inferByTracing(def: OpDef, inputs: readonly ValueInfo[], attrs: Attrs): ValueInfo {
  const scratch = new Graph();
  const ts = inputs.map((v, i) => scratch.input(`in${i}`, v.shape, v.dtype));
  const out = def.expand!(ts, attrs);
  return { shape: out.shape, dtype: out.dtype };
}

/** Adds an application of op `name` to the graph of its inputs (or to `graph` for sources). */
export function emit(name: string, inputs: readonly Tensor[], attrs: Attrs = {}, graph?: Graph): Tensor {
  const def = getOp(name);
  const g = graph ?? inputs[0]?.graph;
  if (!g) throw new GraphError(`${name} needs a graph: pass one for ops without inputs`);
  for (const t of inputs) {
    if (!(t instanceof Tensor)) throw new GraphError(`${name}: input is not a Tensor (${String(t)})`);
    g.assertOwn(t);
  }
  const info = inferOp(def, inputs, attrs, g.modulePath);
  return g.addNode({ op: name, inputs: inputs.map((t) => t.id), attrs, shape: info.shape, dtype: info.dtype });
}

export function opFlops(def: OpDef, inputs: readonly ValueInfo[], output: ValueInfo, attrs: Attrs): number {
  return def.flops ? def.flops(inputs, output, attrs) : numel(output.shape);
}
