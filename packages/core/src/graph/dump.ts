import type { Graph } from './graph.js';
import type { AttrValue } from './node.js';
import { schedule } from './schedule.js';

function formatAttr(v: AttrValue): string {
  if (v instanceof Float64Array) return v.length <= 4 ? `[${Array.from(v).join(', ')}]` : `<${v.length} values>`;
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return JSON.stringify(v);
}

/**
 * A readable listing of a graph in schedule order, one node per line:
 * `n7 = matmul(n3, n5) {transB: true} : f32[2, 4]  @model.layers.0 [seg block0]`.
 */
export function dumpGraph(graph: Graph, roots?: readonly string[]): string {
  const lines: string[] = [];
  const outputsById = new Map<string, string[]>();
  for (const [name, id] of graph.outputs) outputsById.set(id, [...(outputsById.get(id) ?? []), name]);
  for (const id of schedule(graph, roots)) {
    const n = graph.node(id);
    const attrs = Object.entries(n.attrs)
      .map(([k, v]) => `${k}: ${formatAttr(v)}`)
      .join(', ');
    let line = `${id} = ${n.op}(${n.inputs.join(', ')})${attrs ? ` {${attrs}}` : ''} : ${n.dtype}[${n.shape.join(', ')}]`;
    if (n.modulePath) line += `  @${n.modulePath}`;
    if (n.segments.length) line += `  [seg ${n.segments.join('/')}]`;
    if (n.recomputeOf) line += `  (recompute of ${n.recomputeOf})`;
    if (n.backward) line += '  (bwd)';
    const outs = outputsById.get(id);
    if (outs) line += `  -> ${outs.join(', ')}`;
    lines.push(line);
  }
  return lines.join('\n');
}
