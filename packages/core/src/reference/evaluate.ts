import { SignatureError } from '../errors.js';
import { Graph } from '../graph/graph.js';
import type { Attrs } from '../graph/node.js';
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
export function evaluate(graph: Graph, feeds: Readonly<Record<string, NDArray>>, roots?: readonly string[]): Map<string, NDArray> {
  const ids = (roots ?? [...graph.outputs.keys()]).map((r) => graph.outputs.get(r) ?? r);
  const values = new Map<string, NDArray>();
  for (const id of schedule(graph, ids)) {
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
    if (def.kind === 'composite') {
      values.set(id, evaluateComposite(node.op, inputs, node.attrs));
    } else {
      const out = def.reference!(inputs, node.attrs);
      values.set(id, out.dtype === node.dtype ? out : new NDArray(out.shape, node.dtype, out.data));
    }
  }
  const result = new Map<string, NDArray>();
  (roots ?? [...graph.outputs.keys()]).forEach((r, i) => result.set(r, values.get(ids[i])!));
  return result;
}

function evaluateComposite(op: string, inputs: readonly NDArray[], attrs: Attrs): NDArray {
  const scratch = new Graph();
  const ts = inputs.map((v, i) => scratch.input(`in${i}`, v.shape, v.dtype));
  const out = getOp(op).expand!(ts, attrs);
  scratch.output('out', out);
  const feeds: Record<string, NDArray> = {};
  inputs.forEach((v, i) => (feeds[`in${i}`] = v));
  return evaluate(scratch, feeds, ['out']).get('out')!;
}
