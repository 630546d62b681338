import type { Graph } from '../graph/graph.js';
import { GraphCycleError } from '../errors.js';
import { ancestors, clearOrderConstraints, schedule, scheduleAfter } from '../graph/schedule.js';
import { getOp, opFlops } from '../ops/registry.js';
import type { ChainPlan } from './chain-plan.js';
import { CheckpointError } from './errors.js';
import type { SegmentInfo } from './segments.js';

/** Ops whose outputs the `save-matmuls` policy keeps instead of recomputing (as JAX's dots_saveable). */
export const SAVED_BY_SAVE_MATMULS: ReadonlySet<string> = new Set(['matmul', 'matmulNf4', 'attention']);

/** What the remat pass did to a graph. */
export interface RematStats {
  /** Segment re-evaluations left in the graph (an evaluation whose every copy was dead is not counted). */
  readonly recomputedSegments: number;
  /** Nodes added as recomputed copies (each has `recomputeOf`). */
  readonly recomputedOps: number;
  /** FLOPs of those copies: the price of the memory saved. */
  readonly extraFlops: number;
  /** False when the order-only constraints would have formed a cycle and were dropped (values are still exact). */
  readonly orderConstraints: boolean;
}

/**
 * The remat pass. Rewrites a training graph (forward plus the backward `grad`
 * appended) so each segment whose plan entry names an evaluation reads, in its
 * backward, copies of its internals made by that evaluation rather than the
 * originals. The originals then die at the end of the forward.
 *
 * - A copy is a node with the same op, attributes, shape and dtype as its
 *   original and `recomputeOf` naming it. Random ops are keyed by attributes
 *   and the (seed, step) inputs, so copies draw the same dropout masks.
 * - Backward nodes carry the segment of the forward node they differentiate;
 *   those of segment j are rewired to the evaluation of j, and to the
 *   evaluation of j − 1 that fed it for the values flowing in from j − 1.
 * - Copies get an order-only constraint (`scheduleAfter`) on the last cotangent
 *   that reaches the first segment needing them, so a scheduler runs them right
 *   before that backward, not during the forward. Backward nodes that read no
 *   cotangent get the same treatment for their own segment.
 */
export function applyChainPlan(graph: Graph, segments: readonly SegmentInfo[], plan: ChainPlan, roots: readonly string[]): RematStats {
  for (const id of graph.nodeIds()) {
    if (graph.node(id).recomputeOf !== undefined) {
      throw new CheckpointError('this graph already holds recomputed copies; apply a checkpoint policy once, to a graph fresh from grad()');
    }
  }
  if (plan.tapeOf.length !== segments.length) throw new CheckpointError(`plan covers ${plan.tapeOf.length} segments but the graph has ${segments.length}`);
  const indexOf = new Map(segments.map((s) => [s.name, s.index]));
  const backwardOf = backwardBySegment(graph, indexOf);
  const triggers = findTriggers(graph, roots, backwardOf, indexOf);

  // Copy every evaluation, in plan order, so creation order follows execution order.
  const envs: Map<string, string>[] = [];
  const copiesOf: string[][] = [];
  for (const inst of plan.instances) {
    const env = new Map<string, string>();
    const prev = inst.from === null ? undefined : envs[inst.from];
    const copies: string[] = [];
    for (const id of segments[inst.segment].nodes) {
      const n = graph.node(id);
      if (plan.saveMatmuls && SAVED_BY_SAVE_MATMULS.has(n.op)) continue;
      const inputs = n.inputs.map((i) => env.get(i) ?? prev?.get(i) ?? i);
      const t = graph.addNode({ op: n.op, inputs, attrs: n.attrs, shape: n.shape, dtype: n.dtype, modulePath: n.modulePath, segments: n.segments, recomputeOf: id, backward: false });
      env.set(id, t.id);
      copies.push(t.id);
    }
    envs.push(env);
    copiesOf.push(copies);
  }

  // Rewire each dropped segment's backward to its evaluation.
  plan.tapeOf.forEach((tape, j) => {
    if (tape === null) return;
    const own = envs[tape];
    const from = plan.instances[tape].from;
    const upstream = from === null ? undefined : envs[from];
    for (const b of backwardOf[j]) {
      const n = graph.node(b);
      const inputs = n.inputs.map((i) => own.get(i) ?? upstream?.get(i) ?? i);
      if (inputs.some((v, k) => v !== n.inputs[k])) graph.setInputs(b, inputs);
    }
  });

  const outputs = new Set(graph.outputs.values());
  // Copies the roots do not need (parts of a segment its backward does not read) go.
  const needed = ancestors(graph, roots);
  for (const c of copiesOf.flat().reverse()) {
    if (needed.has(c) || outputs.has(c)) continue;
    // Dead readers (unused parts of a backward) go back to the original, so no input dangles.
    graph.replaceUses(c, graph.node(c).recomputeOf!);
    graph.removeNode(c);
  }
  const alive = copiesOf.map((copies) => copies.filter((c) => graph.has(c)));

  const constrained = constrainCopies(graph, plan, alive, triggers, backwardOf, roots);
  let ops = 0;
  let flops = 0;
  for (const copies of alive) {
    for (const c of copies) {
      const n = graph.node(c);
      const ins = n.inputs.map((i) => graph.node(i));
      flops += opFlops(getOp(n.op), ins, n, n.attrs);
      ops++;
    }
  }
  return { recomputedSegments: alive.filter((c) => c.length > 0).length, recomputedOps: ops, extraFlops: flops, orderConstraints: constrained };
}

/** Backward nodes grouped by the segment of the forward node they differentiate. */
function backwardBySegment(graph: Graph, indexOf: ReadonlyMap<string, number>): string[][] {
  const out: string[][] = Array.from({ length: indexOf.size }, () => []);
  for (const id of graph.nodeIds()) {
    const n = graph.node(id);
    if (!n.backward || n.segments.length === 0) continue;
    const j = indexOf.get(n.segments[0]);
    if (j !== undefined) out[j].push(id);
  }
  return out;
}

/**
 * For each segment, the last cotangent from outside it that its backward
 * reads, in the schedule of the graph before the rewrite: once that exists
 * the backward of the segment is next, and its recomputation may start.
 */
function findTriggers(graph: Graph, roots: readonly string[], backwardOf: readonly string[][], indexOf: ReadonlyMap<string, number>): (string | undefined)[] {
  const position = new Map(schedule(graph, roots).map((id, i) => [id, i]));
  return backwardOf.map((nodes, j) => {
    let trigger: string | undefined;
    for (const b of nodes) {
      for (const i of graph.node(b).inputs) {
        const n = graph.node(i);
        if (!n.backward || indexOf.get(n.segments[0]) === j) continue;
        if (!position.has(i)) continue;
        if (trigger === undefined || position.get(i)! > position.get(trigger)!) trigger = i;
      }
    }
    return trigger;
  });
}

/**
 * Holds each evaluation back until the backward reaches the latest segment
 * that (through the chain of evaluations feeding it) needs it. Only copies
 * that read no other copy need the constraint; the rest follow by data.
 */
function constrainCopies(
  graph: Graph,
  plan: ChainPlan,
  alive: readonly string[][],
  triggers: readonly (string | undefined)[],
  backwardOf: readonly string[][],
  roots: readonly string[],
): boolean {
  const deadline = new Array<number>(plan.instances.length).fill(-1);
  plan.tapeOf.forEach((tape, j) => {
    for (let t: number | null = tape; t !== null; t = plan.instances[t].from) deadline[t] = Math.max(deadline[t], j);
  });
  const copies = new Set(alive.flat());
  alive.forEach((list, i) => {
    const trigger = deadline[i] >= 0 ? triggers[deadline[i]] : undefined;
    if (trigger === undefined) return;
    for (const c of list) if (!graph.node(c).inputs.some((x) => copies.has(x))) scheduleAfter(graph, c, trigger);
  });
  // Backward nodes that read no cotangent (a composite's re-expanded forward inside its VJP,
  // constants) are ready from the start; left alone a scheduler runs them early and holds
  // their values across the whole backward. They too wait for their segment's turn.
  backwardOf.forEach((nodes, j) => {
    const trigger = triggers[j];
    if (trigger === undefined) return;
    for (const b of nodes) if (!graph.node(b).inputs.some((x) => graph.node(x).backward)) scheduleAfter(graph, b, trigger);
  });
  try {
    schedule(graph, roots);
    return true;
  } catch (e) {
    if (!(e instanceof GraphCycleError)) throw e;
    clearOrderConstraints(graph);
    return false;
  }
}
