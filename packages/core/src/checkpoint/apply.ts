import type { Graph } from '../graph/graph.js';
import { planMemory, type MemoryPlan, type PlanOptions } from '../memory/planner.js';
import { binomialPlan, groupPlan, keepAllPlan, saveMatmulsPlan, type ChainPlan } from './chain-plan.js';
import { cloneGraph } from './clone-graph.js';
import { CheckpointBudgetError } from './errors.js';
import { describePolicy, parsePolicy, type CheckpointPolicy } from './policy.js';
import { applyChainPlan, type RematStats } from './remat.js';
import { collectSegments } from './segments.js';

/** What a checkpoint policy did, as the compile report carries it. */
export interface CheckpointReport extends RematStats {
  readonly policy: string;
  /** Checkpoint segments found in the graph. */
  readonly segments: number;
  /** Budget policy: segment inputs it may keep at once (binomial slots), absent when nothing is recomputed. */
  readonly slots?: number;
  /** Budget policy: the smallest budget any schedule it considers fits in. */
  readonly minFeasibleBudgetBytes?: number;
}

export interface CheckpointedGraph {
  readonly graph: Graph;
  readonly checkpoint: CheckpointReport;
  readonly memory: MemoryPlan;
}

const NO_REMAT: RematStats = { recomputedSegments: 0, recomputedOps: 0, extraFlops: 0, orderConstraints: true };

/** Output names or node ids -> node ids. */
function rootIds(graph: Graph, roots: readonly string[] | undefined): string[] {
  return (roots ?? [...graph.outputs.keys()]).map((r) => graph.outputs.get(r) ?? r);
}

/**
 * Applies a checkpoint policy to a training graph, in place, and plans its
 * memory. `roots` are the outputs the executable computes (names or ids;
 * default: all named outputs); `options` describe the backend to the planner
 * (which composites it fuses). Returns the policy's report and the plan.
 */
export function rematerialize(
  graph: Graph,
  policy: CheckpointPolicy,
  roots?: readonly string[],
  options: PlanOptions = {},
): { checkpoint: CheckpointReport; memory: MemoryPlan } {
  const ids = rootIds(graph, roots);
  const parsed = parsePolicy(policy);
  const segments = collectSegments(graph);
  const n = segments.length;
  const name = describePolicy(policy);
  if (parsed.kind === 'budget') {
    const choice = chooseBudgetPlan(graph, parsed.budgetBytes, ids, options);
    const stats = choice.plan.instances.length > 0 ? applyChainPlan(graph, segments, choice.plan, ids) : NO_REMAT;
    const slots = choice.slots === undefined ? {} : { slots: choice.slots };
    return { checkpoint: { policy: name, segments: n, ...stats, ...slots, minFeasibleBudgetBytes: choice.minimum }, memory: planMemory(graph, ids, options) };
  }
  const plan = fixedPlan(parsed, n);
  const stats = plan.instances.length > 0 ? applyChainPlan(graph, segments, plan, ids) : NO_REMAT;
  return { checkpoint: { policy: name, segments: n, ...stats }, memory: planMemory(graph, ids, options) };
}

/** As `rematerialize`, on a copy: the caller's graph is left as it was (what a backend's compile uses). */
export function planCheckpointPolicy(graph: Graph, policy: CheckpointPolicy, roots?: readonly string[], options: PlanOptions = {}): CheckpointedGraph {
  // 'none' never rewrites, so it plans the caller's graph directly.
  if (parsePolicy(policy).kind === 'none') return { graph, ...rematerialize(graph, policy, roots, options) };
  const { graph: copy, idMap } = cloneGraph(graph);
  const ids = rootIds(graph, roots).map((id) => idMap.get(id) ?? id);
  return { graph: copy, ...rematerialize(copy, policy, ids, options) };
}

function fixedPlan(p: Exclude<ReturnType<typeof parsePolicy>, { kind: 'budget' }>, n: number): ChainPlan {
  if (n === 0) return keepAllPlan(0);
  switch (p.kind) {
    case 'none':
      return keepAllPlan(n);
    case 'every':
      return groupPlan(n, p.k);
    case 'sqrt':
      return groupPlan(n, Math.max(1, Math.round(Math.sqrt(n))));
    case 'save-matmuls':
      return saveMatmulsPlan(n);
  }
}

interface BudgetChoice {
  readonly plan: ChainPlan;
  readonly slots?: number;
  readonly minimum: number;
}

/**
 * The budget policy. Candidates: keep everything, and the binomial schedule
 * for every slot count 1 … n − 1 (more slots than n − 1 cannot lower the
 * recomputation). Each is applied to a copy and planned; the answer is the
 * fitting one with the fewest recomputed segments (then the lower peak).
 * On a chain of segments this is binomial checkpointing's optimum for the
 * slots that fit. On a general graph the same search is the heuristic:
 * segments are taken in forward order as if they formed a chain, values that
 * skip past the next segment stay stored, and the planner's liveness (not
 * the chain model) decides what fits, so the budget is never exceeded.
 */
function chooseBudgetPlan(graph: Graph, budgetBytes: number, roots: readonly string[], options: PlanOptions): BudgetChoice {
  const n = collectSegments(graph).length;
  const candidates: { plan: ChainPlan; slots?: number }[] = [{ plan: keepAllPlan(n) }];
  for (let k = Math.max(1, n - 1); k >= 1 && n > 1; k--) candidates.push({ plan: binomialPlan(n, k), slots: k });
  let best: { plan: ChainPlan; slots?: number; peak: number } | undefined;
  let minimum = Infinity;
  for (const c of candidates) {
    const peak = candidatePeak(graph, c.plan, roots, options);
    minimum = Math.min(minimum, peak);
    if (peak > budgetBytes) continue;
    const better = !best || c.plan.instances.length < best.plan.instances.length || (c.plan.instances.length === best.plan.instances.length && peak < best.peak);
    if (better) best = { ...c, peak };
  }
  if (!best) throw new CheckpointBudgetError(budgetBytes, minimum, n);
  return { plan: best.plan, ...(best.slots === undefined || best.plan.instances.length === 0 ? {} : { slots: best.slots }), minimum };
}

function candidatePeak(graph: Graph, plan: ChainPlan, roots: readonly string[], options: PlanOptions): number {
  if (plan.instances.length === 0) return planMemory(graph, roots, options).plannedPeakBytes;
  const { graph: copy, idMap } = cloneGraph(graph);
  const ids = roots.map((r) => idMap.get(r) ?? r);
  applyChainPlan(copy, collectSegments(copy), plan, ids);
  return planMemory(copy, ids, options).plannedPeakBytes;
}
