import { GraphCycleError } from '../errors.js';
import type { Graph } from './graph.js';
import { MinHeap } from './min-heap.js';

/**
 * Topological order of the nodes that `roots` depend on (all nodes when
 * `roots` is omitted). Ties break by creation order, so the schedule is
 * deterministic and follows the order the program traced the ops in.
 */
export function schedule(graph: Graph, roots?: readonly string[]): string[] {
  const wanted = roots ? ancestors(graph, roots) : new Set(graph.nodeIds());
  const indeg = new Map<string, number>();
  for (const id of wanted) {
    let d = 0;
    for (const i of graph.node(id).inputs) if (wanted.has(i)) d++;
    indeg.set(id, d);
  }
  // Order-only edges (see scheduleAfter) count like inputs when both ends are wanted.
  const laterOf = new Map<string, string[]>();
  for (const [id, befores] of orderConstraints.get(graph) ?? []) {
    if (!wanted.has(id)) continue;
    for (const b of befores) {
      if (!wanted.has(b) || b === id) continue;
      indeg.set(id, indeg.get(id)! + 1);
      const later = laterOf.get(b);
      if (later) later.push(id);
      else laterOf.set(b, [id]);
    }
  }
  const ready = [...wanted].filter((id) => indeg.get(id) === 0).sort(byCreation);
  const order: string[] = [];
  // A small binary heap keyed by creation index keeps this O(n log n).
  const heap = new MinHeap(byCreation, ready);
  while (heap.size > 0) {
    const id = heap.pop();
    order.push(id);
    for (const c of graph.consumers(id)) {
      if (!wanted.has(c)) continue;
      const edges = graph.node(c).inputs.filter((i) => i === id).length;
      const d = indeg.get(c)! - edges;
      indeg.set(c, d);
      if (d === 0) heap.push(c);
    }
    for (const c of laterOf.get(id) ?? []) {
      const d = indeg.get(c)! - 1;
      indeg.set(c, d);
      if (d === 0) heap.push(c);
    }
  }
  if (order.length !== wanted.size) throw new GraphCycleError(findCycle(graph, wanted));
  return order;
}

const orderConstraints = new WeakMap<Graph, Map<string, Set<string>>>();

/**
 * An order-only constraint: when both nodes are scheduled, `node` runs after
 * `before`, though it does not read its value. The remat pass uses it to hold
 * recomputed copies back until the backward pass reaches their segment.
 */
export function scheduleAfter(graph: Graph, node: string, before: string): void {
  graph.node(node);
  graph.node(before);
  let m = orderConstraints.get(graph);
  if (!m) orderConstraints.set(graph, (m = new Map()));
  const s = m.get(node) ?? new Set<string>();
  s.add(before);
  m.set(node, s);
}

/** The order-only constraints of a graph: node id -> ids it must run after. */
export function orderConstraintsOf(graph: Graph): ReadonlyMap<string, ReadonlySet<string>> {
  return orderConstraints.get(graph) ?? new Map();
}

/** Removes every order-only constraint of a graph. */
export function clearOrderConstraints(graph: Graph): void {
  orderConstraints.delete(graph);
}

/** Every node that `roots` depend on, roots included (only through nodes `within` accepts, when given). */
export function ancestors(graph: Graph, roots: readonly string[], within?: (id: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const i of graph.node(id).inputs) if (!seen.has(i) && (!within || within(i))) stack.push(i);
  }
  return seen;
}

/** Every node that depends on `roots`, roots included (only through nodes `within` accepts, when given). */
export function descendants(graph: Graph, roots: readonly string[], within?: (id: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const c of graph.consumers(id)) if (!seen.has(c) && (!within || within(c))) stack.push(c);
  }
  return seen;
}

export function creationIndex(id: string): number {
  return Number(id.slice(1));
}

function byCreation(a: string, b: string): number {
  return creationIndex(a) - creationIndex(b);
}

function findCycle(graph: Graph, within: Set<string>): string[] {
  // Depth-first search with an explicit stack (a long chain must not overflow the call stack).
  const state = new Map<string, 1 | 2>();
  for (const start of within) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const next: number[] = [0];
    state.set(start, 1);
    while (path.length > 0) {
      const top = path.length - 1;
      const inputs = graph.node(path[top]).inputs;
      if (next[top] >= inputs.length) {
        state.set(path[top], 2);
        path.pop();
        next.pop();
        continue;
      }
      const i = inputs[next[top]++];
      if (!within.has(i)) continue;
      if (state.get(i) === 1) return [...path.slice(path.indexOf(i)), i].reverse();
      if (!state.has(i)) {
        state.set(i, 1);
        path.push(i);
        next.push(0);
      }
    }
  }
  return [...within];
}
