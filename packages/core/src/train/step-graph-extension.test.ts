import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../backend/backend.js';
import { createReferenceBackend } from '../backend/reference-backend.js';
import { GraphError } from '../errors.js';
import * as ops from '../ops/index.js';
import { ArrayStream, buildLoraLm, D, initialValues, makeRows, R } from './fixture.test-support.js';
import { gradName } from './train-graph.js';
import { Trainer } from './trainer.js';
import type { StepHook } from './types.js';

const A = 'proj.lora_A.weight';
const B = 'proj.lora_B.weight';

/**
 * A hook that keeps, in the graph, an average of |A·∇A| (A after the update)
 * and zeroes column 0 of B after the update on the steps whose feed says so.
 */
function probeHook(maskSteps: ReadonlySet<number>): StepHook {
  const flag = (v: boolean): HostTensor => ({ shape: [], dtype: 'f32', data: Float32Array.of(v ? 1 : 0) });
  return {
    name: 'probe',
    extendStep(ctx) {
      const avg = ctx.state('probe.avg', [R, D], 0);
      const ones = ctx.state('probe.count', [], 3);
      const s = ops.mul(ctx.newValue(A), ctx.gradient(A));
      const abs = ops.maximum(s, ops.neg(s));
      ctx.setState('probe.avg', ops.where(ctx.commit, ops.add(ops.mul(avg, 0.75), ops.mul(abs, 0.25)), avg));
      ctx.setState('probe.count', ops.add(ones, 1));
      const keepCol = ops.constant(ctx.graph, Array.from({ length: D * R }, (_, k) => (k % R === 0 ? 0 : 1)), [D, R]);
      const b = ctx.newValue(B);
      ctx.setNewValue(B, ops.where(ops.greater(ctx.input('probe.mask'), 0.5), ops.mul(b, keepCol), b));
      ctx.output('probe.count', ones);
    },
    feeds: ({ step }) => ({ 'probe.mask': flag(maskSteps.has(step)) }),
  };
}

describe('hooks extend the step graph', () => {
  it('state updated in the graph equals a float64 host computation, masks apply after the update, and state resumes', async () => {
    let grad: HostTensor | undefined;
    const capture: StepHook = { name: 'capture', afterStep: (c) => void (grad = c.outputs[gradName(A)]) };
    const make = () =>
      Trainer.create({
        backend: createReferenceBackend(),
        build: buildLoraLm(2, 4),
        parameters: initialValues(),
        optimizer: { kind: 'adamw', lr: 0.05 },
        steps: 6,
        data: new ArrayStream(makeRows(6, 4), 2),
        exposeGradients: true,
        hooks: [probeHook(new Set([1, 2, 4])), capture],
      });
    const t = await make();
    const host = new Float64Array(R * D);
    const counts: number[] = [];
    for (let step = 0; step < 3; step++) {
      await t.trainStep();
      const values = await t.executable.getParameters([A, B, 'probe.avg']);
      const g = grad!.data;
      for (let i = 0; i < host.length; i++) host[i] = 0.75 * host[i] + 0.25 * Math.abs(Number(values[A].data[i]) * Number(g[i]));
      for (let i = 0; i < host.length; i++) expect(Number(values['probe.avg'].data[i])).toBeCloseTo(host[i], 12);
      const col0 = Array.from({ length: D }, (_, o) => Number(values[B].data[o * R]));
      if (step >= 1) expect(col0.every((v) => v === 0)).toBe(true);
      else expect(col0.some((v) => v !== 0)).toBe(true);
      counts.push(Number((await t.state()).tensors['probe.count'].data[0]));
    }
    // Declared init 3, plus one per run.
    expect(counts).toEqual([4, 5, 6]);
    // Hook state travels with the trainer state: a resumed run continues identically.
    const saved = await t.state();
    expect(Object.keys(saved.tensors)).toEqual(expect.arrayContaining(['probe.avg', 'probe.count']));
    const restLosses = [(await t.trainStep()).loss, (await t.trainStep()).loss];
    const resumed = await make();
    await resumed.restore(saved);
    expect([(await resumed.trainStep()).loss, (await resumed.trainStep()).loss]).toEqual(restLosses);
  });

  it('reading a parameter that is not trainable is a GraphError naming it', async () => {
    const bad: StepHook = { name: 'bad', extendStep: (ctx) => void ctx.gradient('proj.weight') };
    await expect(
      Trainer.create({ backend: createReferenceBackend(), build: buildLoraLm(2, 4), parameters: initialValues(), optimizer: { kind: 'sgd', lr: 0.1 }, steps: 1, data: new ArrayStream(makeRows(2, 4), 2), hooks: [bad] }),
    ).rejects.toThrow(GraphError);
    await expect(
      Trainer.create({ backend: createReferenceBackend(), build: buildLoraLm(2, 4), parameters: initialValues(), optimizer: { kind: 'sgd', lr: 0.1 }, steps: 1, data: new ArrayStream(makeRows(2, 4), 2), hooks: [bad] }),
    ).rejects.toThrow(/'proj.weight' is not a trainable parameter/);
  });
});
