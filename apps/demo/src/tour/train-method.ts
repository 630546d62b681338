// One fine-tuning run of one method: the unit the terminal tour and the web page both drive.
import { Trainer, type Backend, type CheckpointPolicy, type HostTensor, type StepMetrics } from '@lowrank/core';
import { evalBatches, ShuffledBatchStream } from '@lowrank/models';
import type { VariantName } from '../cli/command-options.js';
import { adaptModel, type AdaptedModel } from '../cli/runtime/adapters.js';
import { loadBaseModel, type BaseModel } from '../cli/runtime/base-model.js';
import { lmLossBuilder } from '../cli/runtime/lm-graph.js';
import type { TaskData } from './task.js';

export const BASE_MODEL = 'llama-tiny';
export const ALL_LINEAR: readonly string[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface MethodSettings {
  readonly variant: VariantName;
  readonly rank: number;
  readonly steps: number;
  readonly lr: number;
  readonly batchSize: number;
  readonly checkpointing: CheckpointPolicy;
  readonly seed: number;
}

export interface MethodResult {
  readonly trainableParams: number;
  /** Bytes of the trained adapter tensors (float32, as saved). */
  readonly adapterBytes: number;
  /** Bytes of the frozen base weights as held for training (4-bit for QLoRA). */
  readonly baseWeightBytes: number;
  readonly plannedPeakBytes: number;
  readonly measuredPeakBytes: number;
  /** Mean step time after the first step (which includes compilation). */
  readonly stepMs: number;
  readonly heldOutBefore: number;
  readonly heldOutAfter: number;
  readonly losses: readonly number[];
  readonly trained: Readonly<Record<string, HostTensor>>;
  readonly base: BaseModel;
  readonly adapted: AdaptedModel;
}

export interface MethodCallbacks {
  onStep?(m: StepMetrics, total: number): void;
}

/** Fine-tunes a fresh copy of the base model with one method and measures it. */
export async function trainMethod(backend: Backend, task: TaskData, s: MethodSettings, cb: MethodCallbacks = {}): Promise<MethodResult> {
  const base = await loadBaseModel(BASE_MODEL);
  const adapted = await adaptModel(base, { variant: s.variant, r: s.rank, alpha: 2 * s.rank, dropout: 0, targets: ALL_LINEAR, seed: s.seed });
  const heldOut = evalBatches(task.heldOut, s.batchSize);
  const trainer = await Trainer.create({
    backend,
    build: lmLossBuilder(base.model, s.batchSize, task.seqLen, adapted.setTraining),
    parameters: adapted.values,
    optimizer: { kind: 'adamw', lr: s.lr, weightDecay: 0 },
    schedule: { kind: 'constant', warmupSteps: 0 },
    steps: s.steps,
    accumulationSteps: 1,
    maxGradNorm: 1,
    seed: s.seed,
    data: new ShuffledBatchStream(task.train, s.batchSize, s.seed),
    eval: { every: s.steps, batches: () => heldOut },
    hooks: adapted.hooks,
    activeRanks: adapted.ranks,
    checkpointing: s.checkpointing,
  });
  try {
    const before = (await trainer.evaluate()).loss;
    const losses: number[] = [];
    const stepMs: number[] = [];
    let measuredPeak = 0;
    let plannedPeak = trainer.memoryPlan.plannedPeakBytes;
    trainer.subscribe((m) => {
      if (m.type !== 'step') return;
      losses.push(m.loss);
      stepMs.push(m.stepMs);
      measuredPeak = Math.max(measuredPeak, m.measuredPeakBytes);
      if (m.plannedPeakBytes !== undefined) plannedPeak = m.plannedPeakBytes;
      cb.onStep?.(m, s.steps);
    });
    await trainer.run();
    const after = (await trainer.evaluate()).loss;
    const trained = await trainer.trainableValues();
    const trainable = new Set(adapted.trainable);
    let trainableParams = 0;
    let adapterBytes = 0;
    let baseWeightBytes = 0;
    for (const [name, t] of Object.entries(adapted.values)) {
      if (trainable.has(name)) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        trainableParams += n;
        adapterBytes += 4 * n;
      } else baseWeightBytes += t.data.byteLength;
    }
    const steady = stepMs.length > 1 ? stepMs.slice(1) : stepMs;
    return {
      trainableParams,
      adapterBytes,
      baseWeightBytes,
      plannedPeakBytes: plannedPeak,
      measuredPeakBytes: measuredPeak,
      stepMs: steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length),
      heldOutBefore: before,
      heldOutAfter: after,
      losses,
      trained,
      base,
      adapted,
    };
  } finally {
    trainer.dispose();
  }
}
