import { DTypeError, GraphError, ShapeError } from '../errors.js';
import { traceExpansionInfo } from '../graph/expand-composites.js';
import type { Graph } from '../graph/graph.js';
import type { Attrs } from '../graph/node.js';
import { Tensor } from '../graph/tensor.js';
import { getOp, RuleViolation, type OpDef, type ValueInfo } from './op-defs.js';

// Declarations live in op-defs.ts (so the expansion pass can read them without importing this file).
export * from './op-defs.js';

/** Output shape and dtype of an op applied to values, with errors naming the op and module. */
export function inferOp(def: OpDef, inputs: readonly ValueInfo[], attrs: Attrs, modulePath: string): ValueInfo {
  try {
    if (def.infer) return def.infer(inputs, attrs);
    return traceExpansionInfo(def, inputs, attrs);
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

