import type { Graph } from '../graph/graph.js';
import { ancestors } from '../graph/schedule.js';

/** Outputs named `new:<param>` carry updated parameter and state values (train/train-graph.ts). */
export const NEW_VALUE_PREFIX = 'new:';

/** What a planned value is for. */
export type MemoryCategory = 'parameters' | 'activations' | 'gradients' | 'optimizerState';

export const MEMORY_CATEGORIES: readonly MemoryCategory[] = ['parameters', 'activations', 'gradients', 'optimizerState'];

/** Parameter names the training graph uses for optimizer and accumulator state (see train/). */
export const OPTIMIZER_STATE_PREFIXES: readonly string[] = ['optim.', 'accum.', 'adam.'];

export const isOptimizerStateName = (name: string): boolean => OPTIMIZER_STATE_PREFIXES.some((p) => name.startsWith(p));

/**
 * Sorts values into the planner's four categories, by convention:
 * - parameters: `param` nodes, except state parameters named `optim.*`,
 *   `accum.*` or `adam.*` (moments, momentum, gradient accumulators);
 * - optimizer state: those state parameters, every non-backward value
 *   computed from a gradient (the optimizer step, clipping, the `new:<name>`
 *   outputs that `Signature.updates` writes back), and every value that only
 *   feeds `new:` outputs, not the loss or the backward (decay factors, β·m);
 * - gradients: every value autodiff created (`backward: true`), cotangents
 *   of activations included;
 * - activations: everything else: runtime inputs, forward values, and the
 *   recomputed copies of the remat pass (`recomputeOf`).
 * `order` must be a topological order of the nodes to classify.
 */
export function classifyValues(graph: Graph, order: readonly string[]): Map<string, MemoryCategory> {
  const out = new Map<string, MemoryCategory>();
  const fromGradient = new Set<string>();
  const newOutputs = [...graph.outputs].filter(([name]) => name.startsWith(NEW_VALUE_PREFIX)).map(([, id]) => id);
  const feedsUpdates = ancestors(graph, newOutputs);
  const loss = graph.outputs.get('loss');
  const feedsGradients = ancestors(graph, [...order.filter((id) => graph.node(id).backward), ...(loss === undefined ? [] : [loss])]);
  for (const id of order) {
    const n = graph.node(id);
    if (n.op === 'param') {
      out.set(id, isOptimizerStateName(String(n.attrs.name)) ? 'optimizerState' : 'parameters');
      continue;
    }
    if (n.backward) {
      out.set(id, 'gradients');
      fromGradient.add(id);
      continue;
    }
    const updateOnly = feedsUpdates.has(id) && !feedsGradients.has(id) && n.op !== 'input';
    if (n.recomputeOf === undefined && (updateOnly || n.inputs.some((i) => fromGradient.has(i)))) {
      out.set(id, 'optimizerState');
      fromGradient.add(id);
      continue;
    }
    out.set(id, 'activations');
  }
  return out;
}
