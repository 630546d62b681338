import { GraphError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import { ancestors, creationIndex, descendants, schedule } from '../graph/schedule.js';
import type { Tensor } from '../graph/tensor.js';
import { emitExpansion } from '../graph/expand-composites.js';
import { add, cast, fill, zeros } from '../ops/emit.js';
import type { Attrs } from '../graph/node.js';
import { getOp } from '../ops/registry.js';

/**
 * Reverse-mode autodiff: appends to the graph the nodes computing the
 * vector-Jacobian product of `outputs` with `cotangents` for each of `wrt`.
 * Only nodes on a path from `wrt` to `outputs` get gradient work, so a frozen
 * parameter (not in `wrt`) never has a gradient node.
 */
export function vjp(outputs: readonly Tensor[], cotangents: readonly Tensor[], wrt: readonly Tensor[]): Tensor[] {
  if (outputs.length === 0) throw new GraphError('vjp needs at least one output');
  const graph = outputs[0].graph;
  for (const t of [...outputs, ...cotangents, ...wrt]) graph.assertOwn(t);
  const cot = graph.inBackward(() => backprop(graph, outputs, cotangents, wrt));
  return wrt.map((w) => cot.get(w.id) ?? graph.inBackward(() => zeros(graph, w.shape, w.dtype)));
}

/** Gradients of a scalar loss with respect to `wrt`. */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0 || loss.dtype !== 'f32') {
    throw new GraphError(`grad needs a scalar f32 loss, got ${loss.dtype}[${loss.shape.join(', ')}]; reduce it with ops.mean or ops.sum first`);
  }
  for (const w of wrt) {
    if (w.dtype !== 'f32') throw new GraphError(`cannot differentiate with respect to ${w} of dtype ${w.dtype}`);
  }
  const seed = loss.graph.inBackward(() => fill(loss.graph, [], 1));
  return vjp([loss], [seed], wrt);
}

/** Gradients of `loss` for every trainable parameter, keyed by parameter name. */
export function gradTrainable(loss: Tensor): Map<string, Tensor> {
  const params = [...loss.graph.params.values()].filter((p) => p.trainable);
  const grads = grad(
    loss,
    params.map((p) => loss.graph.tensor(p.id)),
  );
  return new Map(params.map((p, i) => [p.name, grads[i]]));
}

/**
 * `since`: differentiate only through nodes created at or after this creation
 * index (a composite's freshly traced expansion). Without it the whole graph is
 * walked; with it the walk stays inside the expansion, so differentiating every
 * composite of a deep model costs O(size of the expansions), not O(graph) each.
 */
function backprop(graph: Graph, outputs: readonly Tensor[], cotangents: readonly Tensor[], wrt: readonly Tensor[], since?: number): Map<string, Tensor> {
  const wrtIds = new Set(wrt.map((w) => w.id));
  const outIds = outputs.map((o) => o.id);
  let reach: Set<string>;
  let needed: Set<string>;
  let order: string[];
  if (since === undefined) {
    reach = descendants(graph, [...wrtIds]);
    needed = ancestors(graph, outIds);
    order = schedule(graph, outIds).filter((id) => reach.has(id) && needed.has(id)).reverse();
  } else {
    const local = (id: string) => wrtIds.has(id) || creationIndex(id) >= since;
    reach = descendants(graph, [...wrtIds], local);
    needed = ancestors(graph, outIds, local);
    // Tracing creates inputs before their consumers, so creation order is topological inside an expansion.
    order = [...needed].filter((id) => reach.has(id)).sort((a, b) => creationIndex(b) - creationIndex(a));
  }
  const onPath = (id: string) => reach.has(id) && needed.has(id);

  const cot = new Map<string, Tensor>();
  const accumulate = (id: string, g: Tensor) => {
    const prev = cot.get(id);
    cot.set(id, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, i) => accumulate(o.id, cotangents[i]));

  for (const id of order) {
    // wrt values are leaves: their inputs' gradients belong to an outer computation.
    if (wrtIds.has(id)) continue;
    const g = cot.get(id);
    if (!g) continue;
    const node = graph.node(id);
    const def = getOp(node.op);
    const inputs = node.inputs.map((i) => graph.tensor(i));
    const needs = node.inputs.map((i) => onPath(i) && graph.node(i).dtype === 'f32');
    if (!needs.some(Boolean)) continue;
    const output = graph.tensor(id);
    // Backward nodes carry the segments of the node they differentiate: the remat pass groups them by it.
    const grads = graph.at(node.modulePath, node.segments, () => {
      if (def.vjp) return def.vjp({ inputs, output, grad: g, attrs: node.attrs, needs });
      if (def.kind === 'composite') return compositeVjp(graph, node.op, inputs, node.attrs, g, needs);
      return inputs.map(() => null);
    });
    graph.at(node.modulePath, node.segments, () =>
      grads.forEach((gi, k) => {
        if (gi && needs[k]) accumulate(node.inputs[k], gi.dtype === 'f32' ? gi : cast(gi, 'f32'));
      }),
    );
  }
  return cot;
}

/**
 * A composite without its own VJP: re-emit its expansion from its inputs and
 * differentiate that locally. The forward node stays fused; the backward
 * recomputes the composite's internals (like a built-in checkpoint).
 */
function compositeVjp(
  graph: Graph,
  op: string,
  inputs: readonly Tensor[],
  attrs: Attrs,
  g: Tensor,
  needs: readonly boolean[],
): (Tensor | null)[] {
  const since = graph.nextCreationIndex;
  const out = emitExpansion(op, inputs, attrs);
  const wanted = inputs.filter((_, i) => needs[i]);
  const cot = backprop(graph, [out], [g], wanted, since);
  return inputs.map((t, i) => (needs[i] ? (cot.get(t.id) ?? null) : null));
}
