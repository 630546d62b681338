import { createHash } from 'node:crypto';
import { orderConstraintsOf, schedule, type AttrValue, type Graph } from '@lowrank/core';

function attrText(v: AttrValue): string {
  if (v instanceof Float64Array) return `f64:${createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex')}`;
  return JSON.stringify(v);
}

/**
 * A structural hash of the part of a graph that `roots` need: ops, attributes,
 * wiring, shapes and dtypes, recompute marks and order-only constraints. Two graphs with the same hash
 * lower to the same ONNX model (given the same frozen values and options).
 */
export function graphHash(graph: Graph, roots: readonly string[], extra = ''): string {
  const order = schedule(graph, roots);
  const position = new Map(order.map((id, i) => [id, i]));
  const h = createHash('sha256');
  for (const id of order) {
    const n = graph.node(id);
    const attrs = Object.keys(n.attrs)
      .sort()
      .map((k) => `${k}=${attrText(n.attrs[k])}`)
      .join(',');
    const rec = n.recomputeOf ? `R${position.get(n.recomputeOf) ?? n.recomputeOf}` : '';
    h.update(`${n.op}(${n.inputs.map((i) => position.get(i)).join(',')}){${attrs}}${n.dtype}[${n.shape.join(',')}]${rec};`);
  }
  // Order-only constraints change the lowering (gates), so they are part of the identity.
  for (const [id, befores] of orderConstraintsOf(graph)) {
    if (!position.has(id)) continue;
    const deps = [...befores].filter((b) => position.has(b)).map((b) => position.get(b)!);
    if (deps.length > 0) h.update(`after:${position.get(id)}<${deps.sort((a, b) => a - b).join(',')};`);
  }
  for (const r of roots) h.update(`root:${position.get(r)};`);
  h.update(extra);
  return h.digest('hex');
}

/** A content hash of a value, so sessions with identical frozen weights can be shared. */
export function dataHash(data: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}
