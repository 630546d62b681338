import { describe, expect, it } from 'vitest';
import { Graph } from '../graph/graph.js';
import * as ops from '../ops/index.js';
import { evaluate } from '../reference/evaluate.js';
import { NDArray } from '../reference/ndarray.js';
import { checkpoint } from '../checkpoint/checkpoint.js';
import { planCheckpointPolicy } from '../checkpoint/apply.js';
import { buildTrainGraph } from '../train/train-graph.js';
import { classifyValues } from './classify.js';
import { planMemory, valueBytes } from './planner.js';
import { expandComposites } from '../graph/expand-composites.js';
import { schedule } from '../graph/schedule.js';

describe('memory planner', () => {
  it('liveness of a small graph, worked by hand', () => {
    const g = new Graph();
    const x = g.input('x', [4]); // 16 bytes, resident
    const w = g.param('w', [4]); // 16 bytes, resident
    const a = ops.mul(x, w); // 16 bytes, live while exp runs
    const b = ops.exp(a); // 16 bytes, live while sum runs
    g.output('c', ops.sum(b)); // 4 bytes, an output
    const plan = planMemory(g);
    expect(plan.scheduledNodes).toBe(5);
    // Step exp: x, w, a (its input) and b (its output) are live: 64 bytes.
    expect(plan.plannedPeakBytes).toBe(64);
    expect(plan.peakNode).toBe(b.id);
    expect(plan.atPeak).toEqual({ parameters: 16, activations: 48, gradients: 0, optimizerState: 0 });
  });

  it('an output stays live to the end; a dead value only while it is made', () => {
    const g = new Graph();
    const x = g.input('x', [8]); // 32
    const kept = ops.neg(x); // 32, output
    ops.exp(x); // 32, read by nobody, not an output: not scheduled at all
    const y = ops.sum(ops.mul(x, x)); // mul 32 then sum 4
    g.output('kept', kept);
    g.output('y', y);
    const plan = planMemory(g);
    // Peak at the sum: x, kept, its input (the mul) and its scalar output.
    expect(plan.plannedPeakBytes).toBe(32 * 3 + 4);
    expect(plan.scheduledNodes).toBe(4);
  });

  it('a composite the backend does not fuse also holds its expansion while it runs', () => {
    const g = new Graph();
    const x = g.input('x', [4, 8]); // 128 bytes
    const w = g.param('w', [8]); // 32 bytes
    g.output('y', ops.rmsNorm(x, w)); // 128 bytes
    const fused = planMemory(g);
    expect(fused.plannedPeakBytes).toBe(128 + 32 + 128);
    expect(planMemory(g, undefined, { fusedOps: new Set(['rmsNorm']) }).plannedPeakBytes).toBe(fused.plannedPeakBytes);
    const unfused = planMemory(g, undefined, { fusedOps: new Set() });
    // The expansion's intermediates, traced independently: the extra is positive and at most all of them at once.
    const scratch = new Graph();
    scratch.output('out', ops.rmsNorm(scratch.input('a', [4, 8]), scratch.param('b', [8])));
    const before = scratch.size;
    const { graph: expanded, idOf } = expandComposites(scratch, () => false);
    const y = idOf.get(scratch.outputs.get('out')!)!;
    const intermediates = expanded.nodeIds().filter((id) => !['input', 'param'].includes(expanded.node(id).op) && id !== y);
    const allAtOnce = intermediates.reduce((s, id) => s + valueBytes(expanded.node(id).shape, expanded.node(id).dtype), 0);
    expect(before).toBe(3);
    expect(intermediates.length).toBeGreaterThan(3);
    expect(unfused.plannedPeakBytes).toBeGreaterThan(fused.plannedPeakBytes);
    expect(unfused.plannedPeakBytes - fused.plannedPeakBytes).toBeLessThanOrEqual(allAtOnce);
  });

  it('classifies a training step: parameters, activations, gradients and optimizer state', () => {
    const g = new Graph();
    let x = g.input('x', [3, 4]);
    for (let i = 0; i < 3; i++) {
      const w = g.param(`layer.${i}.weight`, [4, 4], { trainable: true });
      // a = tanh(x·W) is internal and read by the backward: the part a remat can drop.
      x = checkpoint(g, `layer.${i}`, () => {
        const a = ops.tanh(ops.matmul(x, w));
        return ops.add(ops.mul(a, a), x);
      });
    }
    const tg = buildTrainGraph(g, ops.mean(ops.mul(x, x)), { optimizer: { kind: 'adamw', lr: 0.01 } });
    const roots = [...tg.signature.outputs!, ...Object.values(tg.signature.updates!)];
    const order = schedule(g, roots.map((r) => g.outputs.get(r)!));
    const cats = classifyValues(g, order);
    const count = (c: string) => [...cats.values()].filter((v) => v === c).length;
    expect(cats.get(g.params.get('layer.0.weight')!.id)).toBe('parameters');
    expect(cats.get(g.params.get('optim.m.layer.0.weight')!.id)).toBe('optimizerState');
    expect(cats.get(g.outputs.get('new:layer.0.weight')!)).toBe('optimizerState');
    expect(cats.get(g.outputs.get('loss')!)).toBe('activations');
    expect(count('gradients')).toBeGreaterThan(10);
    const plan = planMemory(g, roots);
    // Moments m and v of three 4x4 weights are resident: at least 2 * 3 * 64 bytes.
    expect(plan.categoryPeaks.optimizerState).toBeGreaterThanOrEqual(2 * 3 * 64);
    expect(plan.categoryPeaks.parameters).toBe(3 * 64);
    expect(plan.categoryPeaks.gradients).toBeGreaterThanOrEqual(3 * 64);

    // The remat pass on the full training step: every update is unchanged.
    const feeds: Record<string, NDArray> = { x: new NDArray([3, 4], 'f32', Float64Array.from({ length: 12 }, (_, i) => Math.sin(i))) };
    for (const [name, p] of g.params) feeds[name] = new NDArray(p.shape, 'f32', Float64Array.from({ length: 16 }, (_, i) => Math.cos(i + name.length) * 0.5));
    for (const [name, i] of g.inputs) if (!feeds[name]) feeds[name] = new NDArray(i.shape, i.dtype, Float64Array.of(name === 'optim.lr' ? 0.01 : 0.5));
    const base = evaluate(g, feeds, roots);
    const remat = planCheckpointPolicy(g, 'every:1', roots);
    expect(remat.checkpoint.recomputedSegments).toBe(2);
    const after = evaluate(remat.graph, feeds, roots);
    for (const r of roots) expect(after.get(r)!.data, r).toEqual(base.get(r)!.data);
    expect(remat.memory.categoryPeaks.activations).toBeLessThan(plan.categoryPeaks.activations);
  });
});
