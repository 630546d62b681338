import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '../backend/reference-backend.js';
import { schedule } from '../graph/schedule.js';
import { evaluate } from '../reference/evaluate.js';
import { planCheckpointPolicy, rematerialize } from './apply.js';
import { compileCheckpointed } from './compile.js';
import { binomialRecomputations } from './binomial.js';
import { binomialPlan } from './chain-plan.js';
import { CheckpointBudgetError, CheckpointError } from './errors.js';
import { gradTrainable } from '../autodiff/grad.js';
import { Graph } from '../graph/graph.js';
import * as ops from '../ops/index.js';
import { NDArray } from '../reference/ndarray.js';
import { checkpoint } from './checkpoint.js';
import { buildChain, buildMlp, buildTransformer, lcg, type TrainingGraph } from './models.test-support.js';
import type { CheckpointPolicy } from './policy.js';
import { applyChainPlan } from './remat.js';
import { collectSegments } from './segments.js';

function results(m: TrainingGraph, policy: CheckpointPolicy): { values: Map<string, Float64Array>; recomputed: number } {
  const planned = planCheckpointPolicy(m.graph, policy, m.outputs);
  const out = evaluate(planned.graph, m.feeds, m.outputs);
  return { values: new Map([...out].map(([k, v]) => [k, v.data])), recomputed: planned.checkpoint.recomputedOps };
}

const FIXED: CheckpointPolicy[] = ['every:1', 'every:2', 'every:3', 'sqrt', 'save-matmuls'];

/** Every policy, budget ones included: the smallest feasible budget and one between it and keeping everything. */
function allPolicies(m: TrainingGraph): CheckpointPolicy[] {
  const none = planCheckpointPolicy(m.graph, 'none', m.outputs).memory.plannedPeakBytes;
  const min = planCheckpointPolicy(m.graph, { budgetBytes: none }, m.outputs).checkpoint.minFeasibleBudgetBytes!;
  return [...FIXED, { budgetBytes: min }, { budgetBytes: Math.round((min + none) / 2) }, { budgetBytes: none }];
}

function expectIdenticalGradients(m: TrainingGraph): void {
  const base = results(m, 'none');
  expect(base.recomputed).toBe(0);
  expect([...base.values.keys()].filter((k) => k.startsWith('grad:')).length).toBeGreaterThanOrEqual(4);
  for (const policy of allPolicies(m)) {
    const r = results(m, policy);
    for (const [name, v] of base.values) expect(r.values.get(name), `${JSON.stringify(policy)} ${name}`).toEqual(v);
    if (typeof policy === 'string') expect(r.recomputed, JSON.stringify(policy)).toBeGreaterThan(0);
  }
}

describe('the remat pass keeps gradients exactly', () => {
  it('8-layer MLP with dropout: identical float64 gradients under every policy', () => {
    expectIdenticalGradients(buildMlp(8));
  });

  it('4-block transformer (RMSNorm, causal attention, LoRA, dropout): identical under every policy', () => {
    expectIdenticalGradients(buildTransformer({ blocks: 4 }));
  });

  it('compileCheckpointed applies the policy on a copy and reports it; the backend compiles what it is given', async () => {
    const m = buildTransformer({ blocks: 3 });
    const backend = createReferenceBackend();
    const feeds = Object.fromEntries(Object.entries(m.feeds).map(([k, v]) => [k, { shape: v.shape, dtype: v.dtype, data: v.data }]));
    const run = async (policy: CheckpointPolicy) => {
      const { executable: exe, checkpoint } = await compileCheckpointed(backend, m.graph, { outputs: m.outputs }, policy);
      return { out: await exe.run(feeds), report: { ...exe.report, checkpoint } };
    };
    const plain = await run('none');
    const remat = await run('every:1');
    expect(remat.report.checkpoint?.recomputedOps).toBeGreaterThan(0);
    expect(plain.report.checkpoint?.recomputedOps).toBe(0);
    expect(remat.report.nodes).toBeGreaterThan(plain.report.nodes);
    expect(remat.report.plannedPeakBytes).toBeLessThan(plain.report.plannedPeakBytes!);
    for (const k of m.outputs) expect(remat.out[k].data, k).toEqual(plain.out[k].data);
    // The caller's graph is left as it was.
    expect(m.graph.nodeIds().some((id) => m.graph.node(id).recomputeOf !== undefined)).toBe(false);

    // A budget: the report carries the minimum feasible budget, and a budget below it fails at compile.
    const budget = remat.report.plannedPeakBytes!;
    const fitted = await run({ budgetBytes: budget });
    const min = fitted.report.checkpoint!.minFeasibleBudgetBytes!;
    expect(fitted.report.plannedPeakBytes).toBeLessThanOrEqual(budget);
    expect(min).toBeLessThanOrEqual(budget);
    for (const k of m.outputs) expect(fitted.out[k].data, k).toEqual(plain.out[k].data);
    await expect(compileCheckpointed(backend, m.graph, { outputs: m.outputs }, { budgetBytes: min - 1 })).rejects.toThrow(CheckpointBudgetError);
    // The backend alone never rewrites: its node count is the caller's graph's.
    expect((await backend.compile(m.graph, { outputs: m.outputs })).report.nodes).toBe(plain.report.nodes);
  });
});

describe('general graphs (the heuristic)', () => {
  it('a value skipping past the next segment stays exact under every policy', () => {
    const g = new Graph();
    const feeds: Record<string, NDArray> = {};
    const rand = lcg(9);
    const param = (name: string) => {
      feeds[name] = new NDArray([6, 6], 'f32', Float64Array.from({ length: 36 }, rand));
      return g.param(name, [6, 6], { trainable: true });
    };
    feeds.x = new NDArray([3, 6], 'f32', Float64Array.from({ length: 18 }, rand));
    const x = g.input('x', [3, 6]);
    const [w0, w1, w2, w3] = [param('w0'), param('w1'), param('w2'), param('w3')];
    const a = checkpoint(g, 's0', () => ops.tanh(ops.matmul(x, w0)));
    const b = checkpoint(g, 's1', () => ops.add(ops.tanh(ops.matmul(a, w1)), a));
    // s2 reads a, from two segments back, and x, from outside every segment.
    const c = checkpoint(g, 's2', () => ops.mul(ops.sigmoid(ops.matmul(b, w2)), ops.add(a, x)));
    const d = checkpoint(g, 's3', () => ops.tanh(ops.matmul(c, w3)));
    const loss = ops.mean(ops.mul(d, d));
    g.output('loss', loss);
    for (const [name, t] of gradTrainable(loss)) g.output(`grad:${name}`, t);
    const m: TrainingGraph = { graph: g, outputs: [...g.outputs.keys()], feeds, segmentOutputs: [] };
    expectIdenticalGradients(m);
  });
});

describe('binomial plans on a real chain graph', () => {
  it('for every n <= 32 and k <= 6 the graph holds exactly the formula count of segment re-evaluations', () => {
    for (let n = 1; n <= 32; n++) {
      for (let k = 1; k <= 6; k++) {
        const m = buildChain(n, 1, 2);
        const stats = applyChainPlan(m.graph, collectSegments(m.graph), binomialPlan(n, k), m.outputs.map((o) => m.graph.outputs.get(o)!));
        const total = m.segmentOutputs.reduce((s, y) => s + m.graph.nodeIds().filter((id) => m.graph.node(id).recomputeOf === y).length, 0);
        expect(total, `n=${n} k=${k}`).toBe(binomialRecomputations(n, k));
        expect(stats.recomputedSegments, `n=${n} k=${k}`).toBe(total);
      }
    }
  });

  it('re-evaluates each segment as often as the plan says and keeps values exact', () => {
    for (const [n, k] of [[2, 1], [5, 1], [7, 2], [12, 3], [16, 2], [20, 4], [32, 6], [32, 3]] as const) {
      const m = buildChain(n, 2, 3);
      const base = evaluate(m.graph, m.feeds, m.outputs);
      const plan = binomialPlan(n, k);
      const stats = applyChainPlan(m.graph, collectSegments(m.graph), plan, m.outputs.map((o) => m.graph.outputs.get(o)!));
      // Every evaluation of segment i needs its output y_i = tanh(...) (its own vjp or the next segment reads it).
      const copies = m.segmentOutputs.map((y) => m.graph.nodeIds().filter((id) => m.graph.node(id).recomputeOf === y).length);
      const total = copies.reduce((a, b) => a + b, 0);
      expect(total, `n=${n} k=${k}`).toBe(binomialRecomputations(n, k));
      expect(stats.recomputedSegments).toBe(total);
      expect(copies[n - 1]).toBe(0);
      expect(stats.orderConstraints).toBe(true);
      const after = evaluate(m.graph, m.feeds, m.outputs);
      for (const o of m.outputs) expect(after.get(o)!.data, o).toEqual(base.get(o)!.data);
    }
  });
});

describe('graph structure after the pass', () => {
  it('copies carry recomputeOf, the original op and attributes, and run after the backward has started', () => {
    const m = buildTransformer({ blocks: 3 });
    rematerialize(m.graph, 'every:1', m.outputs);
    const g = m.graph;
    const copies = g.nodeIds().filter((id) => g.node(id).recomputeOf !== undefined);
    expect(copies.length).toBeGreaterThan(10);
    for (const c of copies) {
      const n = g.node(c);
      const o = g.node(n.recomputeOf!);
      expect([n.op, n.shape, n.dtype, n.segments, n.backward]).toEqual([o.op, o.shape, o.dtype, o.segments, o.backward]);
      expect(n.attrs).toBe(o.attrs);
    }
    // In the schedule no copy runs before the first backward node.
    const order = schedule(g, m.outputs.map((o) => g.outputs.get(o)!));
    const firstBackward = order.findIndex((id) => g.node(id).backward);
    const firstCopy = order.findIndex((id) => g.node(id).recomputeOf !== undefined);
    expect(firstBackward).toBeGreaterThan(0);
    expect(firstCopy).toBeGreaterThan(firstBackward);
    // Blocks recompute in reverse order, each after the backward of the block above has started.
    const pos = new Map(order.map((id, i) => [id, i]));
    const of = (block: number) => copies.filter((c) => g.node(c).segments[0] === `model.layers.${block}`).map((c) => pos.get(c)!);
    const firstBackwardOf = (block: number) => Math.min(...order.filter((id) => g.node(id).backward && g.node(id).segments[0] === `model.layers.${block}`).map((id) => pos.get(id)!));
    expect(Math.min(...of(0))).toBeGreaterThan(Math.min(...of(1)));
    expect(Math.min(...of(1))).toBeGreaterThan(firstBackwardOf(2));
    expect(Math.min(...of(0))).toBeGreaterThan(firstBackwardOf(1));
    expect(of(2)).toEqual([]);
  });

  it('backward nodes carry the segment of the forward node they differentiate', () => {
    const m = buildMlp(3, { dropout: 0 });
    const segs = new Set(m.graph.nodeIds().filter((id) => m.graph.node(id).backward).map((id) => m.graph.node(id).segments[0]));
    expect([...segs].filter(Boolean).sort()).toEqual(['mlp.0', 'mlp.1', 'mlp.2']);
  });

  it('refuses to rematerialize a graph twice, and unknown policies', () => {
    const m = buildChain(4);
    rematerialize(m.graph, 'every:1', m.outputs);
    expect(() => rematerialize(m.graph, 'every:1', m.outputs)).toThrow(CheckpointError);
    expect(() => rematerialize(buildChain(2).graph, 'every:0' as CheckpointPolicy)).toThrow(/unknown checkpoint policy 'every:0'/);
    expect(() => rematerialize(buildChain(2).graph, { budgetBytes: -1 })).toThrow(CheckpointError);
  });
});
