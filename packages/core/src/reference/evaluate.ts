import { SignatureError } from '../errors.js';
import { expandComposites, hasExpandableComposite } from '../graph/expand-composites.js';
import type { Graph } from '../graph/graph.js';
import { schedule } from '../graph/schedule.js';
import { getOp } from '../ops/registry.js';
import { shapesEqual } from '../shape.js';
import { NDArray } from './ndarray.js';

/**
 * The float64 oracle: runs any graph on the CPU with the reference kernels.
 * `feeds` holds every input and parameter by name; `roots` are node ids or
 * output names (default: all named outputs). Values are rounded to their
 * dtype only at the f32-to-int boundary, so float results are true float64.
 */
export function evaluate(source: Graph, feeds: Readonly<Record<string, NDArray>>, roots?: readonly string[]): Map<string, NDArray> {
  const sourceIds = (roots ?? [...source.outputs.keys()]).map((r) => source.outputs.get(r) ?? r);
  let graph = source;
  let order: readonly string[] = schedule(source, sourceIds);
  let ids = sourceIds;
  // Composites run as their expansion into primitives (the oracle has no fused kernels).
  if (hasExpandableComposite(source, order, noComposite)) {
    const expanded = expandComposites(source, noComposite, sourceIds);
    graph = expanded.graph;
    ids = sourceIds.map((id) => expanded.idOf.get(id)!);
    order = expanded.order;
  }
  const values = new Map<string, NDArray>();
  for (const id of order) {
    const node = graph.node(id);
    const def = getOp(node.op);
    if (node.op === 'input' || node.op === 'param') {
      const name = String(node.attrs.name);
      const v = feeds[name];
      if (!v) throw new SignatureError(`no value fed for ${node.op} '${name}' (${node.dtype}[${node.shape.join(', ')}]); add it to the feeds`);
      if (!shapesEqual(v.shape, node.shape)) {
        throw new SignatureError(`${node.op} '${name}' expects shape [${node.shape.join(', ')}], got [${v.shape.join(', ')}]`);
      }
      values.set(id, v);
      continue;
    }
    const inputs = node.inputs.map((i) => values.get(i)!);
    const out = def.reference!(inputs, node.attrs);
    values.set(id, out.dtype === node.dtype ? out : new NDArray(out.shape, node.dtype, out.data));
  }
  const result = new Map<string, NDArray>();
  (roots ?? [...source.outputs.keys()]).forEach((r, i) => result.set(r, values.get(ids[i])!));
  return result;
}

const noComposite = (): boolean => false;
