// One fine-tuning run of one method: the unit the terminal tour and the web page both drive.
import { Trainer, type Backend, type CheckpointPolicy, type ForwardGraph, type HostTensor, type StepHook, type StepMetrics } from '@lowrank/core';
import { evalBatches, ShuffledBatchStream, type CacheResidency } from '@lowrank/models';
import type { ResolvedLoraConfig } from '@lowrank/variants';
import type { VariantName } from '../cli/command-options.js';
import { adaptModel } from '../cli/runtime/adapters.js';
import type { BaseModel } from '../cli/runtime/base-model.js';
import { lmLossBuilder } from '../cli/runtime/lm-graph.js';
import { greedyExactMatch, type ExactMatch } from './accuracy.js';
import { peakRssSampler } from './rss.js';
import type { TaskData } from './task.js';

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

/** The adapters a method inserted into the base model, and what training them needs. */
export interface AdapterSetup {
  /** Every parameter's initial value: frozen base weights and the adapters. */
  readonly values: Readonly<Record<string, HostTensor>>;
  readonly trainable: readonly string[];
  readonly hooks: readonly StepHook[];
  readonly ranks: Readonly<Record<string, number>>;
  setTraining(training: boolean): void;
  /** Adds method-specific terms to the training loss (AdaLoRA's orthogonality regularizer). */
  extendLoss?(forward: ForwardGraph): ForwardGraph;
  /** The method's hooks read gradients (AdaLoRA's importance scores). */
  readonly exposeGradients?: boolean;
  /** The LoRA config a PEFT adapter_config.json records (LoRA, DoRA, QLoRA). */
  readonly config?: ResolvedLoraConfig;
  /** Writes the trained adapter as a PEFT directory (methods `lowrank train` also offers). */
  saveAdapter?(dir: string, trained: Readonly<Record<string, HostTensor>>): Promise<void>;
}

/** Inserts the adapters of a method into a freshly built base model. */
export type AdapterFactory = (base: BaseModel, s: MethodSettings) => Promise<AdapterSetup>;

/** LoRA, DoRA and QLoRA, exactly as `lowrank train` inserts them. */
export const cliAdapters: AdapterFactory = (base, s) => adaptModel(base, { variant: s.variant, r: s.rank, alpha: 2 * s.rank, dropout: 0, targets: ALL_LINEAR, seed: s.seed });

/** Where a run happens: the backend, the task, and a fresh copy of the base model for each method. */
export interface MethodRun {
  readonly backend: Backend;
  readonly task: TaskData;
  readonly loadBase: () => Promise<BaseModel>;
  /** Where the answers' KV cache lives (default: the Generator's choice for the backend; 'backend' on WebGPU). */
  readonly residency?: CacheResidency;
  /** New tokens per held-out answer (default: the longest expected answer + 1; more lets wrong answers run on). */
  readonly answerTokens?: number;
}

export interface MethodResult {
  readonly trainableParams: number;
  /** Bytes of the trained adapter tensors (float32, as saved). */
  readonly adapterBytes: number;
  /** Bytes of the frozen base weights as held for training (4-bit for QLoRA). */
  readonly baseWeightBytes: number;
  readonly plannedPeakBytes: number;
  readonly measuredPeakBytes: number;
  /** Median step time after the first step (which includes compilation); the median resists a busy machine's stalls. */
  readonly stepMs: number;
  /** Highest resident set size sampled during the run (each step and evaluation), bytes; see rss.ts. */
  readonly peakRssBytes: number;
  /** Resident set size when the run started, bytes (the peak's baseline). */
  readonly startRssBytes: number;
  readonly heldOutBefore: number;
  readonly heldOutAfter: number;
  /** Greedy answers to the held-out prompts before training (the adapter is the identity then) and after. */
  readonly matchBefore: ExactMatch;
  readonly matchAfter: ExactMatch;
  readonly losses: readonly number[];
  readonly trained: Readonly<Record<string, HostTensor>>;
  readonly base: BaseModel;
  readonly adapted: AdapterSetup;
}

export interface MethodCallbacks {
  onStep?(m: StepMetrics, total: number): void;
  /** Runs after training, before the trainer is disposed (DyLoRA evaluates several ranks here). */
  afterTraining?(trainer: Trainer, decoder: MethodDecoder): Promise<void>;
}

/** Greedy answers of the method's model with given values (the trained values by default). */
export type MethodDecoder = (values?: Readonly<Record<string, HostTensor>>) => Promise<ExactMatch>;

/** Extra feeds a method's hooks give evaluation runs (DyLoRA's rank, AdaLoRA's masks). */
function hookEvalFeeds(hooks: readonly StepHook[]): Record<string, HostTensor> {
  return Object.assign({}, ...hooks.map((h) => h.evalFeeds?.() ?? {})) as Record<string, HostTensor>;
}

/** Fine-tunes a fresh copy of the base model with one method and measures it. */
export async function trainMethod(run: MethodRun, s: MethodSettings, cb: MethodCallbacks = {}, adapters: AdapterFactory = cliAdapters): Promise<MethodResult> {
  const { backend, task } = run;
  const rss = peakRssSampler();
  const base = await run.loadBase();
  const adapted = await adapters(base, s);
  adapted.setTraining(false);
  const answer: MethodDecoder = async (values = adapted.values) => {
    // Training traces switch the adapters to training mode; generation traces them as evaluated.
    adapted.setTraining(false);
    const m = await greedyExactMatch({
      backend,
      model: base.model,
      tokenizer: base.tokenizer,
      values,
      examples: task.heldOutExamples,
      batchSize: task.decodeBatch,
      feeds: hookEvalFeeds(adapted.hooks),
      ...(run.residency ? { residency: run.residency } : {}),
      ...(run.answerTokens ? { maxNewTokens: run.answerTokens } : {}),
    });
    rss.sample();
    return m;
  };
  const lmLoss = lmLossBuilder(base.model, s.batchSize, task.seqLen, (t) => adapted.setTraining(t));
  const heldOut = evalBatches(task.heldOut, s.batchSize);
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => {
      const forward = lmLoss({ training });
      return training && adapted.extendLoss ? adapted.extendLoss(forward) : forward;
    },
    parameters: { ...adapted.values },
    exposeGradients: adapted.exposeGradients ?? false,
    optimizer: { kind: 'adamw', lr: s.lr, weightDecay: 0 },
    schedule: { kind: 'constant', warmupSteps: 0 },
    steps: s.steps,
    accumulationSteps: 1,
    maxGradNorm: 1,
    seed: s.seed,
    data: new ShuffledBatchStream(task.train, s.batchSize, s.seed),
    eval: { every: s.steps, batches: () => heldOut },
    hooks: [{ name: 'ranks', metrics: () => ({ activeRanks: adapted.ranks }) }, ...adapted.hooks],
    checkpointing: s.checkpointing,
  });
  try {
    const matchBefore = await answer();
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
      rss.sample();
      if (m.plannedPeakBytes !== undefined) plannedPeak = m.plannedPeakBytes;
      cb.onStep?.(m, s.steps);
    });
    await trainer.run();
    const trained = await trainer.trainableValues();
    await cb.afterTraining?.(trainer, (values = { ...adapted.values, ...trained }) => answer(values));
    const after = (await trainer.evaluate()).loss;
    const matchAfter = await answer({ ...adapted.values, ...trained });
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
    const steady = (stepMs.length > 1 ? stepMs.slice(1) : stepMs).sort((a, b) => a - b);
    return {
      trainableParams,
      adapterBytes,
      baseWeightBytes,
      plannedPeakBytes: plannedPeak,
      measuredPeakBytes: measuredPeak,
      stepMs: steady.length ? steady[Math.floor(steady.length / 2)] : NaN,
      peakRssBytes: rss.peak(),
      startRssBytes: rss.start,
      heldOutBefore: before,
      heldOutAfter: after,
      matchBefore,
      matchAfter,
      losses,
      trained,
      base,
      adapted,
    };
  } finally {
    trainer.dispose();
  }
}
