import { bytesPerElement } from '../dtype.js';
import { expandComposites, hasExpandableComposite } from '../graph/expand-composites.js';
import type { Graph } from '../graph/graph.js';
import { schedule } from '../graph/schedule.js';
import { getOp, opFlops } from '../ops/registry.js';
import { numel } from '../shape.js';
import { classifyValues, MEMORY_CATEGORIES, type MemoryCategory } from './classify.js';

export type MemoryBreakdown = Readonly<Record<MemoryCategory, number>>;

/** The planner's answer for one scheduled graph. All sizes in bytes, as a float32 device stores them. */
export interface MemoryPlan {
  /** Highest total of live values at any step of the schedule. */
  readonly plannedPeakBytes: number;
  /** The split of that peak. */
  readonly atPeak: MemoryBreakdown;
  /** Each category's own highest total (not necessarily at the same step). */
  readonly categoryPeaks: MemoryBreakdown;
  /** The node running when the peak is reached. */
  readonly peakNode: string;
  /** Nodes in the schedule. */
  readonly scheduledNodes: number;
  /** FLOPs of one run, all nodes; and of the recomputed copies alone. */
  readonly totalFlops: number;
  readonly recomputeFlops: number;
}

export interface PlanOptions {
  /**
   * Composite ops the backend runs as one fused kernel (its
   * `capabilities.fusedOps`). Default: every composite is fused.
   */
  readonly fusedOps?: ReadonlySet<string>;
}

const zero = (): Record<MemoryCategory, number> => ({ parameters: 0, activations: 0, gradients: 0, optimizerState: 0 });

export const valueBytes = (shape: readonly number[], dtype: Parameters<typeof bytesPerElement>[0]): number => numel(shape) * bytesPerElement(dtype);

/**
 * Liveness over the schedule `schedule(graph, roots)` gives, the order the
 * reference evaluator runs and backends are expected to follow:
 * - parameters and runtime inputs are resident for the whole run;
 * - any other value is allocated when its node runs and freed after the last
 *   node reading it; values named by `roots` (outputs) live to the end;
 * - while a node runs, its inputs and its output are live together;
 * - a fused composite counts only its output (kernel scratch is the
 *   backend's); composites the backend runs as their expansion (absent from
 *   `options.fusedOps`, when given) are planned as that expansion: liveness
 *   runs over the expanded graph, inlined where each composite ran (FLOPs
 *   and the node count stay those of `graph`, and the peak node is named by
 *   the node of `graph` it belongs to);
 * - every node gets its own buffer (no aliasing of views).
 * `roots` are output names or node ids (default: every named output).
 */
export function planMemory(graph: Graph, roots?: readonly string[], options: PlanOptions = {}): MemoryPlan {
  const rootIds = (roots ?? [...graph.outputs.keys()]).map((r) => graph.outputs.get(r) ?? r);
  const sourceOrder = schedule(graph, rootIds);
  let totalFlops = 0;
  let recomputeFlops = 0;
  for (const id of sourceOrder) {
    const n = graph.node(id);
    if (n.op === 'param' || n.op === 'input') continue;
    const f = opFlops(getOp(n.op), n.inputs.map((i) => graph.node(i)), n, n.attrs);
    totalFlops += f;
    if (n.recomputeOf !== undefined) recomputeFlops += f;
  }

  // Liveness runs over what the backend executes: the graph with its unfused composites expanded.
  const fused = options.fusedOps;
  const keep = (op: string) => fused?.has(op) === true;
  let planned = graph;
  let order: readonly string[] = sourceOrder;
  let kept = new Set(rootIds);
  let originOf: ReadonlyMap<string, string> | undefined;
  if (fused && hasExpandableComposite(graph, sourceOrder, keep)) {
    const expanded = expandComposites(graph, keep, rootIds);
    planned = expanded.graph;
    originOf = expanded.originOf;
    kept = new Set(rootIds.map((id) => expanded.idOf.get(id)!));
    order = expanded.order;
  }
  const position = new Map(order.map((id, i) => [id, i]));
  const category = classifyValues(planned, order);
  const end = order.length - 1;

  // delta[c][i]: bytes of category c that become live at step i (negative: freed after step i - 1).
  const delta = MEMORY_CATEGORIES.map(() => new Float64Array(order.length + 1));
  for (const id of order) {
    const n = planned.node(id);
    const c = MEMORY_CATEGORIES.indexOf(category.get(id)!);
    const resident = n.op === 'param' || n.op === 'input';
    const birth = resident ? 0 : position.get(id)!;
    let death = birth;
    if (resident || kept.has(id)) death = end;
    else for (const u of planned.consumers(id)) if (position.has(u)) death = Math.max(death, position.get(u)!);
    const bytes = valueBytes(n.shape, n.dtype);
    delta[c][birth] += bytes;
    delta[c][death + 1] -= bytes;
  }

  const live = zero();
  const categoryPeaks = zero();
  let peak = -1;
  let peakStep = 0;
  let atPeak = zero();
  for (let i = 0; i < order.length; i++) {
    let total = 0;
    MEMORY_CATEGORIES.forEach((c, k) => {
      live[c] += delta[k][i];
      categoryPeaks[c] = Math.max(categoryPeaks[c], live[c]);
      total += live[c];
    });
    if (total > peak) [peak, peakStep, atPeak] = [total, i, { ...live }];
  }
  return {
    plannedPeakBytes: Math.max(peak, 0),
    atPeak,
    categoryPeaks,
    peakNode: originOf?.get(order[peakStep]) ?? order[peakStep] ?? '',
    scheduledNodes: sourceOrder.length,
    totalFlops,
    recomputeFlops,
  };
}
