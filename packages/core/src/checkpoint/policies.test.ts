import { describe, expect, it } from 'vitest';
import { planMemory } from '../memory/planner.js';
import { getOp, opFlops } from '../ops/registry.js';
import { planCheckpointPolicy, type CheckpointedGraph } from './apply.js';
import { binomialRecomputations } from './binomial.js';
import { binomialPlan } from './chain-plan.js';
import { cloneGraph } from './clone-graph.js';
import { CheckpointBudgetError } from './errors.js';
import { buildChain, buildTransformer, CHAIN_VALUES_PER_SEGMENT, type TrainingGraph } from './models.test-support.js';
import type { CheckpointPolicy } from './policy.js';
import { applyChainPlan } from './remat.js';
import { collectSegments } from './segments.js';

const plan = (m: TrainingGraph, p: CheckpointPolicy): CheckpointedGraph => planCheckpointPolicy(m.graph, p, m.outputs);

describe('a chain of 16 uniform segments', () => {
  const n = 16;
  const [batch, dim] = [32, 8];
  const m = buildChain(n, batch, dim);
  const segmentBytes = CHAIN_VALUES_PER_SEGMENT * batch * dim * 4;
  const none = plan(m, 'none');

  it('sqrt keeps at most 2·sqrt(16)/16 of the activations of none, plus one segment', () => {
    const sqrt = plan(m, 'sqrt');
    const bound = ((2 * Math.sqrt(n)) / n) * none.memory.categoryPeaks.activations + segmentBytes;
    console.log(`chain 16: activations none ${none.memory.categoryPeaks.activations} B, sqrt ${sqrt.memory.categoryPeaks.activations} B, bound ${bound} B`);
    expect(sqrt.memory.categoryPeaks.activations).toBeLessThanOrEqual(bound);
    expect(sqrt.checkpoint.recomputedSegments).toBe(12);
    expect(sqrt.memory.plannedPeakBytes).toBeLessThan(none.memory.plannedPeakBytes);
  });

  /** The planned peak of the binomial schedule with k slots, measured on a fresh copy. */
  const peakWithSlots = (k: number): number => {
    const { graph, idMap } = cloneGraph(m.graph);
    const roots = m.outputs.map((o) => idMap.get(m.graph.outputs.get(o)!)!);
    applyChainPlan(graph, collectSegments(graph), binomialPlan(n, k), roots);
    return planMemory(graph, roots).plannedPeakBytes;
  };
  const slotPeaks = Array.from({ length: n - 1 }, (_, i) => peakWithSlots(i + 1));

  it('the budget policy never exceeds its budget and recomputes as little as the fitting slot counts allow', () => {
    const min = plan(m, { budgetBytes: none.memory.plannedPeakBytes }).checkpoint.minFeasibleBudgetBytes!;
    expect(min).toBe(Math.min(none.memory.plannedPeakBytes, ...slotPeaks));
    expect(min).toBeLessThan(none.memory.plannedPeakBytes);
    let previous = Infinity;
    const steps = 14;
    for (let i = 0; i <= steps; i++) {
      const budget = Math.round(min + ((none.memory.plannedPeakBytes - min) * i) / steps);
      const r = plan(m, { budgetBytes: budget });
      expect(r.memory.plannedPeakBytes, `budget ${budget}`).toBeLessThanOrEqual(budget);
      // Optimal over slot counts: the formula's minimum among those whose schedule fits.
      const fitting = slotPeaks.map((p, k) => (p <= budget ? binomialRecomputations(n, k + 1) : Infinity));
      const expected = none.memory.plannedPeakBytes <= budget ? 0 : Math.min(...fitting);
      expect(r.checkpoint.recomputedSegments, `budget ${budget}`).toBe(expected);
      if (r.checkpoint.slots !== undefined) expect(r.checkpoint.recomputedSegments).toBe(binomialRecomputations(n, r.checkpoint.slots));
      expect(r.checkpoint.recomputedSegments).toBeLessThanOrEqual(previous);
      previous = r.checkpoint.recomputedSegments;
    }
    expect(previous).toBe(0);
  });

  it('a budget below the minimum feasible is a typed error that states the minimum', () => {
    const min = Math.min(none.memory.plannedPeakBytes, ...slotPeaks);
    let caught: unknown;
    try {
      plan(m, { budgetBytes: min - 1 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CheckpointBudgetError);
    const err = caught as CheckpointBudgetError;
    expect(err.minimumBytes).toBe(min);
    expect(err.message).toContain(`minimum feasible ${min} bytes`);
    expect(err.message).toContain(`${min - 1} bytes`);
    expect(plan(m, { budgetBytes: min }).memory.plannedPeakBytes).toBeLessThanOrEqual(min);
  });
});

describe('planner figures for a 12-layer transformer', () => {
  it('prints and checks the report of every policy', () => {
    const m = buildTransformer({ blocks: 12, batch: 2, seq: 16, dim: 16, heads: 2, ffn: 32, frozenBase: true });
    const g = m.graph;
    // FLOPs of one forward evaluation of all 12 blocks, summed from the traced nodes.
    let blockFlops = 0;
    for (const s of collectSegments(g)) {
      for (const id of s.nodes) {
        const n = g.node(id);
        blockFlops += opFlops(getOp(n.op), n.inputs.map((i) => g.node(i)), n, n.attrs);
      }
    }
    const base = plan(m, 'none');
    const min = plan(m, { budgetBytes: base.memory.plannedPeakBytes }).checkpoint.minFeasibleBudgetBytes!;
    const mid = Math.round((min + base.memory.plannedPeakBytes) / 2);
    const policies: CheckpointPolicy[] = ['none', 'every:1', 'every:2', 'sqrt', 'save-matmuls', { budgetBytes: mid }, { budgetBytes: min }];
    const reports = new Map(policies.map((p) => [JSON.stringify(p), plan(m, p)]));
    const rows = [...reports].map(([p, r]) => ({
      policy: p,
      peak: r.memory.plannedPeakBytes,
      params: r.memory.atPeak.parameters,
      activations: r.memory.categoryPeaks.activations,
      gradients: r.memory.categoryPeaks.gradients,
      recomputedSegments: r.checkpoint.recomputedSegments,
      recomputedOps: r.checkpoint.recomputedOps,
      extraFlops: r.checkpoint.extraFlops,
      slots: r.checkpoint.slots ?? '-',
    }));
    console.table(rows);
    const get = (p: CheckpointPolicy) => reports.get(JSON.stringify(p))!;

    expect(get('none').checkpoint.recomputedOps).toBe(0);
    expect(get('none').checkpoint.extraFlops).toBe(0);
    for (const [p, r] of reports) {
      const s = r.memory.atPeak;
      expect(s.parameters + s.activations + s.gradients + s.optimizerState, p).toBe(r.memory.plannedPeakBytes);
      // The planner's total FLOPs grow by exactly the remat pass's extra FLOPs.
      expect(r.memory.totalFlops - base.memory.totalFlops, p).toBe(r.checkpoint.extraFlops);
      expect(r.memory.recomputeFlops, p).toBe(r.checkpoint.extraFlops);
      expect(r.memory.atPeak.parameters, p).toBe(base.memory.atPeak.parameters);
      // save-matmuls keeps every matmul output, even those a frozen weight's backward would not read: no worse than none here.
      if (p === '"save-matmuls"') expect(r.memory.categoryPeaks.activations, p).toBeLessThanOrEqual(base.memory.categoryPeaks.activations);
      else if (p !== '"none"') expect(r.memory.categoryPeaks.activations, p).toBeLessThan(base.memory.categoryPeaks.activations);
    }
    const sqrt = get('sqrt');
    expect(sqrt.checkpoint.recomputedOps).toBeGreaterThan(0);
    expect(sqrt.checkpoint.recomputedSegments).toBe(9);
    // Each dropped block is recomputed at most once: never more than one extra forward.
    expect(sqrt.checkpoint.extraFlops).toBeGreaterThan(0);
    expect(sqrt.checkpoint.extraFlops).toBeLessThanOrEqual(blockFlops);
    expect(get('every:1').checkpoint.extraFlops).toBeLessThanOrEqual((blockFlops * 11) / 12);
    expect(get('every:1').memory.categoryPeaks.activations).toBeLessThan(sqrt.memory.categoryPeaks.activations);
    // Keeping matmul outputs recomputes far fewer FLOPs than recomputing whole blocks.
    expect(get('save-matmuls').checkpoint.extraFlops).toBeLessThan(get('every:1').checkpoint.extraFlops / 4);
    expect(get('save-matmuls').memory.categoryPeaks.activations).toBeGreaterThan(get('every:1').memory.categoryPeaks.activations);
    for (const budget of [mid, min]) {
      const r = get({ budgetBytes: budget });
      expect(r.memory.plannedPeakBytes).toBeLessThanOrEqual(budget);
      expect(r.checkpoint.minFeasibleBudgetBytes).toBe(min);
    }
    expect(get({ budgetBytes: min }).checkpoint.recomputedSegments).toBeGreaterThanOrEqual(get({ budgetBytes: mid }).checkpoint.recomputedSegments);
    expect(get({ budgetBytes: mid }).checkpoint.recomputedSegments).toBeGreaterThan(0);
  });
});
