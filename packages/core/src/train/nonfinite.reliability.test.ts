import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../backend/backend.js';
import { createReferenceBackend } from '../backend/reference-backend.js';
import { NonFiniteStepError, TrainConfigError } from './errors.js';
import { ArrayStream, buildLoraLm, initialValues, makeRows } from './fixture.test-support.js';
import { Trainer, type NonFinitePolicy, type TrainerOptions } from './trainer.js';
import type { StepHook, StepMetrics } from './types.js';

const SEQ = 4;
const values = (t: HostTensor) => Array.from(t.data as ArrayLike<number>);

/** Feeds the LoRA branch scale: 2 on good steps, `bad` on the optimizer steps listed (a poisoned batch). */
function poisonHook(badSteps: ReadonlySet<number>, bad = Number.POSITIVE_INFINITY): StepHook {
  return {
    name: 'poison',
    feeds: ({ step }) => ({ 'lora.scale': { shape: [], dtype: 'f32', data: Float64Array.of(badSteps.has(step) ? bad : 2) } }),
    evalFeeds: () => ({ 'lora.scale': { shape: [], dtype: 'f32', data: Float64Array.of(2) } }),
  };
}

function options(policy: NonFinitePolicy | undefined, hooks: StepHook[], over: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    backend: createReferenceBackend(),
    build: buildLoraLm(2, SEQ, 0, true),
    parameters: initialValues(),
    optimizer: { kind: 'adamw', lr: 0.05 },
    steps: 20,
    data: new ArrayStream(makeRows(6, SEQ), 2),
    hooks,
    ...(policy ? { onNonFinite: policy } : {}),
    ...over,
  };
}

async function snapshot(t: Trainer): Promise<Record<string, number[]>> {
  const s = await t.state();
  return Object.fromEntries(Object.entries(s.tensors).map(([k, v]) => [k, values(v)]));
}

describe('non-finite loss or gradient', () => {
  it("'skip' (the default) holds back the whole update — weights and optimizer moments — and reports the step", async () => {
    const t = await Trainer.create(options(undefined, [poisonHook(new Set([2]))]));
    const seen: StepMetrics[] = [];
    t.subscribe((m) => m.type === 'step' && seen.push(m));
    await t.trainStep();
    await t.trainStep();
    const before = await snapshot(t);
    const bad = await t.trainStep();
    expect(bad.skipped).toBe(true);
    expect(Number.isFinite(bad.loss) && Number.isFinite(bad.gradNorm)).toBe(false);
    expect(await snapshot(t)).toEqual(before);
    const good = await t.trainStep();
    expect(good.skipped).toBe(false);
    expect(Number.isFinite(good.loss)).toBe(true);
    const after = await snapshot(t);
    expect(after['proj.lora_A.weight']).not.toEqual(before['proj.lora_A.weight']);
    expect(Object.values(after).every((v) => v.every(Number.isFinite))).toBe(true);
    expect(seen.map((m) => m.skipped)).toEqual([false, false, true, false]);
    expect(t.skippedSteps).toBe(1);
    expect(seen.at(-1)?.skippedSteps).toBe(1);
  });

  it('a NaN on a non-final micro-batch of an accumulated step skips that step and clears the accumulator', async () => {
    // Micro-batch hook: poison only the first micro-batch of optimizer step 1.
    let micro = 0;
    const hook: StepHook = {
      name: 'poison-micro',
      feeds: ({ microStep }) => {
        micro = microStep;
        return { 'lora.scale': { shape: [], dtype: 'f32', data: Float64Array.of(micro === 2 ? Number.NaN : 2) } };
      },
    };
    const t = await Trainer.create(options('skip', [hook], { accumulationSteps: 2 }));
    await t.trainStep();
    const before = await snapshot(t);
    expect((await t.trainStep()).skipped).toBe(true);
    const held = await snapshot(t);
    for (const [k, v] of Object.entries(held)) {
      if (k.startsWith('accum.')) expect(v.every((x) => x === 0)).toBe(true);
      else expect(v).toEqual(before[k]);
    }
    expect((await t.trainStep()).skipped).toBe(false);
    expect(Object.values(await snapshot(t)).every((v) => v.every(Number.isFinite))).toBe(true);
  });

  it("'stop' throws NonFiniteStepError naming the step, with the weights untouched", async () => {
    const t = await Trainer.create(options('stop', [poisonHook(new Set([1]), Number.NaN)]));
    await t.trainStep();
    const before = await snapshot(t);
    const err = await t.trainStep().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteStepError);
    expect((err as NonFiniteStepError).step).toBe(2);
    expect((err as Error).message).toMatch(/onNonFinite/);
    expect(await snapshot(t)).toEqual(before);
    expect(t.step).toBe(1);
  });

  it("'scale' gives the unscaled run's updates exactly (power-of-two scale) and halves the scale on overflow", async () => {
    const plain = await Trainer.create(options('skip', [poisonHook(new Set())], { optimizer: { kind: 'sgd', lr: 0.5 } }));
    const scaled = await Trainer.create(
      options('scale', [poisonHook(new Set([3]))], { optimizer: { kind: 'sgd', lr: 0.5 }, lossScale: { init: 1024, growthInterval: 2 } }),
    );
    const scales: number[] = [];
    for (let i = 0; i < 3; i++) {
      await plain.trainStep();
      scales.push((await scaled.trainStep()).lossScale!);
    }
    expect(await snapshot(scaled)).toEqual(await snapshot(plain));
    const overflow = await scaled.trainStep();
    expect(overflow.skipped).toBe(true);
    scales.push(overflow.lossScale!);
    scales.push((await scaled.trainStep()).lossScale!);
    // 1024, 1024, then grown after 2 good steps, halved by the overflow.
    expect(scales).toEqual([1024, 1024, 2048, 2048, 1024]);
    expect(scaled.lossScale).toBe(1024);
  });

  it("'scale' survives a resume: the scaler state travels in the trainer state", async () => {
    const a = await Trainer.create(options('scale', [poisonHook(new Set([0]))], { lossScale: { init: 256 } }));
    await a.trainStep();
    await a.trainStep();
    const state = await a.state();
    const b = await Trainer.create(options('scale', [poisonHook(new Set([0]))], { lossScale: { init: 256 } }));
    await b.restore(state);
    expect(b.lossScale).toBe(128);
    expect(b.skippedSteps).toBe(1);
  });

  it('rejects an unknown policy and bad loss-scale settings with TrainConfigError', async () => {
    await expect(Trainer.create(options('panic' as NonFinitePolicy, []))).rejects.toBeInstanceOf(TrainConfigError);
    await expect(Trainer.create(options('scale', [], { lossScale: { backoffFactor: 2 } }))).rejects.toThrow(/backoffFactor/);
  });
});
