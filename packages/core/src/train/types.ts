import type { Executable, HostTensor } from '../backend/backend.js';
import type { StepGraphContext } from './step-graph-extension.js';

/** A JSON value: what a data position or a hook's state is saved as. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** One micro-batch: the graph's runtime inputs, and how many tokens its loss averages over. */
export interface TrainBatch {
  readonly feeds: Readonly<Record<string, HostTensor>>;
  /** Tokens that contribute to the loss (labels not ignored); weights micro-batches in accumulation. */
  readonly tokens: number;
  /** Token positions the model processes (batch × sequence); throughput counts these. Default: `tokens`. */
  readonly inputTokens?: number;
}

/** An endless, resumable stream of training batches (epochs roll over inside). */
export interface BatchStream {
  next(): TrainBatch;
  /** Where the stream stands, enough for `seek` to continue exactly from here. */
  position(): JsonValue;
  seek(position: JsonValue): void;
}

export interface StepContext {
  /** Optimizer steps completed before this one. */
  readonly step: number;
  /** Micro-batches run before this one (the RNG step counter). */
  readonly microStep: number;
  readonly seed: number;
}

export interface AfterStepContext extends StepContext {
  readonly loss: number;
  readonly gradNorm: number;
  /** Outputs of the last micro-batch, including any the hook asked for in `outputs`. */
  readonly outputs: Readonly<Record<string, HostTensor>>;
  /** The training executable: a hook may read or replace resident parameters. */
  readonly executable: Executable;
}

/**
 * A value a hook reports in the step metrics: a number, a vector, or one
 * number per named thing (per adapted module, say).
 */
export type HookMetric = number | readonly number[] | Readonly<Record<string, number>>;

/**
 * Per-step behaviour a variant plugs into the trainer: DyLoRA's rank draw,
 * AdaLoRA's masking, LoRA-Drop's layer selection. All optional.
 */
export interface StepHook {
  readonly name: string;
  /** Extra graph outputs to fetch on each training micro-batch (gradients, scores). */
  readonly outputs?: readonly string[];
  /** Extra feeds for one training micro-batch (a rank mask and scale, say). */
  feeds?(ctx: StepContext): Readonly<Record<string, HostTensor>> | undefined;
  /** Extra feeds for evaluation batches. */
  evalFeeds?(): Readonly<Record<string, HostTensor>> | undefined;
  /** Runs after each optimizer step. */
  afterStep?(ctx: AfterStepContext): void | Promise<void>;
  /**
   * Adds the hook's own state and updates to the training step graph (AdaLoRA's
   * importance averages and keep-mask, say), so they stay on the backend
   * between steps like the optimizer's moments. Runs once, when the trainer builds the graph.
   */
  extendStep?(ctx: StepGraphContext): void;
  /**
   * What the hook reports after each step, merged into `StepMetrics.metrics`
   * (records under the same key from several hooks are merged entry by entry).
   */
  metrics?(): Readonly<Record<string, HookMetric>>;
  /** Hook state saved in checkpoints so a resumed run continues identically. */
  state?(): JsonValue;
  restore?(state: JsonValue): void;
}

export interface StepMetrics {
  readonly type: 'step';
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** Loss tokens of the step (all micro-batches). */
  readonly tokens: number;
  /** Input token positions processed per second (as the Hugging Face Trainer counts throughput). */
  readonly tokensPerSecond: number;
  readonly stepMs: number;
  /** The memory planner's peak for the training graph, when the backend reports it. */
  readonly plannedPeakBytes?: number;
  /** The backend's measured peak since it started. */
  readonly measuredPeakBytes: number;
  /** What the hooks report (`StepHook.metrics`): active ranks, importance, ...; absent when no hook reports. */
  readonly metrics?: Readonly<Record<string, HookMetric>>;
  /** True when the loss or gradient was non-finite and the update was held back (`onNonFinite`). */
  readonly skipped?: boolean;
  /** Steps held back so far in this trainer. */
  readonly skippedSteps?: number;
  /** The dynamic loss scale used for this step (`onNonFinite: 'scale'` only). */
  readonly lossScale?: number;
}

export interface EvalMetrics {
  readonly type: 'eval';
  readonly step: number;
  /** Mean token cross-entropy over the evaluation set (token-weighted across batches). */
  readonly loss: number;
  readonly perplexity: number;
  readonly tokens: number;
}

export type TrainMetrics = StepMetrics | EvalMetrics;
export type MetricsListener = (m: TrainMetrics) => void;

/** Everything needed to continue a run exactly: saved with the adapter in a checkpoint. */
export interface TrainerState {
  readonly step: number;
  readonly microStep: number;
  readonly seed: number;
  readonly data: JsonValue;
  /** Trainable parameters, optimizer moments and gradient accumulators, by name. */
  readonly tensors: Readonly<Record<string, HostTensor>>;
  readonly hooks: Readonly<Record<string, JsonValue>>;
}
