// The op table: declarations only. Emitting nodes (shape inference, tracing) lives in registry.ts.
import type { DType } from '../dtype.js';
import { GraphError, UnknownOpError } from '../errors.js';
import type { Attrs } from '../graph/node.js';
import type { Tensor } from '../graph/tensor.js';
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

export function opFlops(def: OpDef, inputs: readonly ValueInfo[], output: ValueInfo, attrs: Attrs): number {
  return def.flops ? def.flops(inputs, output, attrs) : numel(output.shape);
}
