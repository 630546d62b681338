import { bytesPerElement } from '../dtype.js';
import type { Graph } from '../graph/graph.js';
import { schedule } from '../graph/schedule.js';
import { getOp, opFlops } from '../ops/registry.js';
import { numel } from '../shape.js';
import { expansionScratchBytes } from './expansion-scratch.js';
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
 *   backend's); a composite the backend runs as its expansion (absent from
 *   `options.fusedOps`, when given) also counts, while it runs, the peak of
 *   its expansion's internal values;
 * - every node gets its own buffer (no aliasing of views).
 * `roots` are output names or node ids (default: every named output).
 */
export function planMemory(graph: Graph, roots?: readonly string[], options: PlanOptions = {}): MemoryPlan {
  const rootIds = (roots ?? [...graph.outputs.keys()]).map((r) => graph.outputs.get(r) ?? r);
  const order = schedule(graph, rootIds);
  const position = new Map(order.map((id, i) => [id, i]));
  const category = classifyValues(graph, order);
  const end = order.length - 1;
  const kept = new Set(rootIds);

  // delta[c][i]: bytes of category c that become live at step i (negative: freed after step i - 1).
  const delta = MEMORY_CATEGORIES.map(() => new Float64Array(order.length + 1));
  let totalFlops = 0;
  let recomputeFlops = 0;
  for (const id of order) {
    const n = graph.node(id);
    const c = MEMORY_CATEGORIES.indexOf(category.get(id)!);
    const resident = n.op === 'param' || n.op === 'input';
    const birth = resident ? 0 : position.get(id)!;
    let death = birth;
    if (resident || kept.has(id)) death = end;
    else for (const u of graph.consumers(id)) if (position.has(u)) death = Math.max(death, position.get(u)!);
    const bytes = valueBytes(n.shape, n.dtype);
    delta[c][birth] += bytes;
    delta[c][death + 1] -= bytes;
    if (options.fusedOps && !resident && !options.fusedOps.has(n.op) && getOp(n.op).kind === 'composite') {
      const scratch = expansionScratchBytes(graph, n, options);
      delta[c][birth] += scratch;
      delta[c][birth + 1] -= scratch;
    }
    if (!resident) {
      const f = opFlops(getOp(n.op), n.inputs.map((i) => graph.node(i)), n, n.attrs);
      totalFlops += f;
      if (n.recomputeOf !== undefined) recomputeFlops += f;
    }
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
    peakNode: order[peakStep] ?? '',
    scheduledNodes: order.length,
    totalFlops,
    recomputeFlops,
  };
}
