import type { Backend, CompileReport, Executable, HostTensor, ParameterValue } from '../backend/backend.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { compileCheckpointed, type CheckpointPolicy, type CheckpointReport } from '../checkpoint/index.js';
import type { MemoryPlan } from '../memory/index.js';
import { NonFiniteStepError, TrainConfigError, TrainStateError } from './errors.js';
import { optimizerScalars, type OptimizerConfig } from './optimizer.js';
import { learningRateAt, validateSchedule, type LrSchedule } from './schedule.js';
import { LOSS_SCALE_STATE, validateNonFinite, type LossScaleOptions, type NonFinitePolicy } from './non-finite.js';
import { declaredOnly, i32Scalar, initialState, mergeHookMetrics, pickParams, scalarOf } from './trainer-values.js';
import { APPLY_INPUT, buildTrainGraph, GRAD_NORM_OUTPUT, LOSS_OUTPUT, LOSS_SCALE_INPUT, MICRO_WEIGHT_INPUT, STEP_OK_OUTPUT, type TrainGraph } from './train-graph.js';
import type { StepGraphContext } from './step-graph-extension.js';
import type { BatchStream, EvalMetrics, JsonValue, MetricsListener, StepHook, StepMetrics, TrainBatch, TrainerState, TrainMetrics } from './types.js';

export interface ForwardGraph {
  readonly graph: Graph;
  /** Scalar f32 mean loss over the batch's tokens. */
  readonly loss: Tensor;
}

export interface TrainerOptions {
  readonly backend: Backend;
  /** Builds the forward graph with its loss; called once for training and once for evaluation (dropout off). */
  readonly build: (mode: { training: boolean }) => ForwardGraph;
  /**
   * Initial values of the graph's parameters (frozen and trainable), by name.
   * Frozen base weights may be lazy (read or file-mapped by the backend), so a
   * large model is never held whole in JavaScript.
   */
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly optimizer: OptimizerConfig;
  readonly schedule?: LrSchedule;
  /** Optimizer steps of the whole run (the schedule's horizon and `run`'s end). */
  readonly steps: number;
  readonly accumulationSteps?: number;
  readonly maxGradNorm?: number;
  /** Seeds every random op (dropout) through the `rng.seed` input. */
  readonly seed?: number;
  readonly data: BatchStream;
  /** Evaluates every `every` steps (and after the last) on the batches `batches()` yields. */
  readonly eval?: { readonly every: number; readonly batches: () => Iterable<TrainBatch> };
  readonly hooks?: readonly StepHook[];
  /** Activation checkpointing of the training graph (default `none`): changes memory, never results. */
  readonly checkpointing?: CheckpointPolicy;
  /** Another graph pass applied to the training graph before checkpointing and compiling. */
  readonly transform?: (graph: Graph) => void;
  /** Expose `grad:<name>` outputs (they go to the host every step: for tests; hooks score parameters in the graph with `extendStep`). */
  readonly exposeGradients?: boolean;
  /**
   * What a step with a NaN/Inf loss or gradient does (checked in the graph; the update is never applied):
   * 'skip' (default) reports it and goes on, 'stop' throws NonFiniteStepError, 'scale' trains with
   * dynamic loss scaling (halve the scale on overflow, grow it after a run of good steps).
   */
  readonly onNonFinite?: NonFinitePolicy;
  /** Dynamic loss scaling settings for `onNonFinite: 'scale'` (PyTorch GradScaler's defaults). */
  readonly lossScale?: LossScaleOptions;
}

export { LOSS_SCALE_STATE, NON_FINITE_POLICIES, type LossScaleOptions, type NonFinitePolicy } from './non-finite.js';

/** The planner's peak when the backend's compile report carries it. */
export function plannedPeakOf(report: CompileReport): number | undefined {
  const direct = report.plannedPeakBytes;
  if (typeof direct === 'number') return direct;
  const memory = report.memory as { peakBytes?: unknown; plannedPeakBytes?: unknown } | undefined;
  const nested = memory?.plannedPeakBytes ?? memory?.peakBytes;
  return typeof nested === 'number' ? nested : undefined;
}

/**
 * Drives any core Backend through a training run: one compiled step graph
 * with the optimizer inside, resident parameters and state, per-step scalar
 * feeds (learning rate, bias corrections, RNG step), periodic evaluation and a
 * metrics stream. `state()`/`restore()` make a run resumable exactly.
 */
export class Trainer {
  private stepCount = 0;
  private microCount = 0;
  private evalExe?: Executable;
  private evalInputs = new Set<string>();
  private readonly listeners = new Set<MetricsListener>();
  private readonly scalarData: (v: number) => HostTensor;
  private skippedCount = 0;
  private lossScaleValue: number;
  private goodSteps = 0;

  private constructor(
    private readonly opts: TrainerOptions,
    readonly trainGraph: TrainGraph,
    readonly executable: Executable,
    /** The memory planner's view of the (checkpointed) training graph. */
    readonly memoryPlan: MemoryPlan,
    readonly checkpointReport: CheckpointReport,
  ) {
    const f64 = opts.backend.capabilities.float64;
    this.scalarData = (v) => ({ shape: [], dtype: 'f32', data: f64 ? Float64Array.of(v) : Float32Array.of(v) });
    this.lossScaleValue = opts.lossScale?.init ?? 65536;
  }

  private get scaling(): boolean {
    return this.opts.onNonFinite === 'scale';
  }

  static async create(opts: TrainerOptions): Promise<Trainer> {
    if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new TrainConfigError('steps', opts.steps, 'an integer >= 1');
    if (opts.schedule) validateSchedule({ totalSteps: opts.steps, ...opts.schedule });
    if (opts.eval && !(Number.isInteger(opts.eval.every) && opts.eval.every >= 1)) {
      throw new TrainConfigError('eval.every', opts.eval.every, 'an integer >= 1');
    }
    validateNonFinite(opts);
    const fwd = opts.build({ training: true });
    const tg = buildTrainGraph(fwd.graph, fwd.loss, {
      lossScaling: opts.onNonFinite === 'scale',
      optimizer: opts.optimizer,
      maxGradNorm: opts.maxGradNorm,
      accumulationSteps: opts.accumulationSteps,
      exposeGradients: opts.exposeGradients,
      extensions: (opts.hooks ?? []).flatMap((h) => (h.extendStep ? [(ctx: StepGraphContext) => h.extendStep!(ctx)] : [])),
    });
    opts.transform?.(tg.graph);
    const hookOutputs = (opts.hooks ?? []).flatMap((h) => h.outputs ?? []);
    const signature = { ...tg.signature, outputs: [...new Set([...(tg.signature.outputs ?? []), ...hookOutputs])] };
    // The trainer owns checkpointing: the remat pass rewrites the step graph in place, then the backend compiles it.
    const { executable: exe, checkpoint, memory } = await compileCheckpointed(opts.backend, tg.graph, signature, opts.checkpointing ?? 'none', { inPlace: true });
    const trainer = new Trainer(opts, tg, exe, memory, checkpoint);
    await exe.setParameters({ ...pickParams(tg.graph, opts.parameters, 'training', new Set(), new Set(tg.state.map((s) => s.name))), ...initialState(tg) });
    return trainer;
  }

  /** Optimizer steps done so far. */
  get step(): number {
    return this.stepCount;
  }

  get totalSteps(): number {
    return this.opts.steps;
  }

  /** Receives every step and evaluation metric; returns an unsubscribe function. */
  subscribe(listener: MetricsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(m: TrainMetrics): void {
    for (const l of this.listeners) l(m);
  }

  learningRate(step = this.stepCount): number {
    const s = this.opts.schedule;
    return s ? learningRateAt(this.opts.optimizer.lr, { totalSteps: this.opts.steps, ...s }, step) : this.opts.optimizer.lr;
  }

  /** One optimizer step over `accumulationSteps` micro-batches. */
  async trainStep(): Promise<StepMetrics> {
    const t0 = performance.now();
    const k = this.trainGraph.accumulationSteps;
    const batches = Array.from({ length: k }, () => this.opts.data.next());
    const tokens = batches.reduce((s, b) => s + b.tokens, 0);
    const inputTokens = batches.reduce((s, b) => s + (b.inputTokens ?? b.tokens), 0);
    if (k > 1 && !(tokens > 0)) throw new TrainConfigError('batch tokens', tokens, 'at least one token with a label across the accumulated micro-batches');
    const lr = this.learningRate();
    const scalars = optimizerScalars(this.opts.optimizer, this.stepCount, lr);
    const graphInputs = this.trainGraph.graph.inputs;
    let outputs: Record<string, HostTensor> = {};
    let lossSum = 0;
    for (let i = 0; i < k; i++) {
      const ctx = { step: this.stepCount, microStep: this.microCount, seed: this.seed };
      const feeds: Record<string, HostTensor> = { ...batches[i].feeds };
      for (const [n, v] of Object.entries(scalars)) feeds[n] = this.scalarData(v);
      if (this.scaling) feeds[LOSS_SCALE_INPUT] = this.scalarData(this.lossScaleValue);
      if (k > 1) {
        feeds[MICRO_WEIGHT_INPUT] = this.scalarData(batches[i].tokens / tokens);
        feeds[APPLY_INPUT] = this.scalarData(i === k - 1 ? 1 : 0);
      }
      if (graphInputs.has('rng.seed')) feeds['rng.seed'] = i32Scalar(this.seed);
      if (graphInputs.has('rng.step')) feeds['rng.step'] = i32Scalar(this.microCount);
      for (const h of this.opts.hooks ?? []) Object.assign(feeds, declaredOnly(h.feeds?.(ctx), graphInputs));
      outputs = await this.executable.run(feeds);
      const l = scalarOf(outputs[LOSS_OUTPUT]);
      lossSum += k > 1 ? (l * batches[i].tokens) / tokens : l;
      this.microCount++;
    }
    const gradNorm = scalarOf(outputs[GRAD_NORM_OUTPUT]);
    // The graph already held the update back when this is 0; the host check also catches a NaN on an earlier micro-batch.
    const skipped = scalarOf(outputs[STEP_OK_OUTPUT]) !== 1 || !Number.isFinite(lossSum);
    const usedScale = this.lossScaleValue;
    if (skipped) {
      this.skippedCount++;
      if (this.opts.onNonFinite === 'stop') throw new NonFiniteStepError(this.stepCount + 1, lossSum, gradNorm);
    }
    if (this.scaling) this.updateLossScale(skipped);
    for (const h of this.opts.hooks ?? []) {
      await h.afterStep?.({ step: this.stepCount, microStep: this.microCount, seed: this.seed, loss: lossSum, gradNorm, outputs, executable: this.executable });
    }
    this.stepCount++;
    const stepMs = performance.now() - t0;
    const planned = plannedPeakOf(this.executable.report) ?? this.memoryPlan.plannedPeakBytes;
    const metrics = mergeHookMetrics(this.opts.hooks ?? []);
    const m: StepMetrics = {
      type: 'step',
      step: this.stepCount,
      loss: lossSum,
      lr,
      gradNorm,
      tokens,
      tokensPerSecond: inputTokens / Math.max(stepMs / 1000, 1e-9),
      stepMs,
      ...(planned !== undefined ? { plannedPeakBytes: planned } : {}),
      measuredPeakBytes: this.opts.backend.memoryStats().peakBytes,
      ...(metrics ? { metrics } : {}),
      skipped,
      skippedSteps: this.skippedCount,
      ...(this.scaling ? { lossScale: usedScale } : {}),
    };
    this.emit(m);
    return m;
  }

  /** Steps whose update was held back for a non-finite loss or gradient. */
  get skippedSteps(): number {
    return this.skippedCount;
  }

  /** The current dynamic loss scale (1 unless `onNonFinite` is 'scale'). */
  get lossScale(): number {
    return this.scaling ? this.lossScaleValue : 1;
  }

  private updateLossScale(skipped: boolean): void {
    const o = this.opts.lossScale ?? {};
    if (skipped) {
      this.lossScaleValue = Math.max(this.lossScaleValue * (o.backoffFactor ?? 0.5), Number.MIN_VALUE);
      this.goodSteps = 0;
    } else if (++this.goodSteps >= (o.growthInterval ?? 2000)) {
      const grown = this.lossScaleValue * (o.growthFactor ?? 2);
      if (Number.isFinite(grown) && grown < 3e38) this.lossScaleValue = grown;
      this.goodSteps = 0;
    }
  }

  private get seed(): number {
    return this.opts.seed ?? 0;
  }

  /** Current values of the trainable parameters (what an adapter file holds). */
  async trainableValues(): Promise<Record<string, HostTensor>> {
    return this.executable.getParameters(this.trainGraph.trainable);
  }

  /** Mean token loss of the current parameters over `batches` (default: the eval set). */
  async evaluate(batches?: Iterable<TrainBatch>): Promise<EvalMetrics> {
    const source = batches ?? this.opts.eval?.batches();
    if (!source) throw new TrainConfigError('eval', undefined, 'evaluation batches: pass them to evaluate() or set the eval option');
    if (!this.evalExe) {
      const fwd = this.opts.build({ training: false });
      fwd.graph.output(LOSS_OUTPUT, fwd.loss);
      this.evalInputs = new Set(fwd.graph.inputs.keys());
      this.evalExe = await this.opts.backend.compile(fwd.graph, { outputs: [LOSS_OUTPUT] });
      await this.evalExe.setParameters(pickParams(fwd.graph, this.opts.parameters, 'evaluation', new Set(this.trainGraph.trainable)));
    }
    await this.evalExe.setParameters(await this.trainableValues());
    const extra: Record<string, HostTensor> = Object.assign({}, ...(this.opts.hooks ?? []).map((h) => declaredOnly(h.evalFeeds?.(), this.evalInputs)));
    let weighted = 0;
    let tokens = 0;
    for (const b of source) {
      if (b.tokens <= 0) continue;
      const feeds: Record<string, HostTensor> = { ...b.feeds, ...extra };
      if (this.evalInputs.has('rng.seed')) feeds['rng.seed'] = i32Scalar(this.seed);
      if (this.evalInputs.has('rng.step')) feeds['rng.step'] = i32Scalar(0);
      const out = await this.evalExe.run(feeds);
      weighted += scalarOf(out[LOSS_OUTPUT]) * b.tokens;
      tokens += b.tokens;
    }
    if (tokens === 0) throw new TrainConfigError('eval data', 0, 'at least one batch with a labelled token');
    const loss = weighted / tokens;
    const m: EvalMetrics = { type: 'eval', step: this.stepCount, loss, perplexity: Math.exp(loss), tokens };
    this.emit(m);
    return m;
  }

  /**
   * Trains until `opts.steps` (or `until`) optimizer steps are done, evaluating
   * on schedule. `afterStep` runs after each step (a checkpoint save, say).
   */
  async run(opts: { until?: number; afterStep?: (t: Trainer) => void | Promise<void> } = {}): Promise<void> {
    const end = Math.min(opts.until ?? this.opts.steps, this.opts.steps);
    while (this.stepCount < end) {
      await this.trainStep();
      const ev = this.opts.eval;
      if (ev && (this.stepCount % ev.every === 0 || this.stepCount === this.opts.steps)) await this.evaluate();
      await opts.afterStep?.(this);
    }
  }

  /** A snapshot that `restore` turns back into exactly this point of the run. */
  async state(): Promise<TrainerState> {
    const names = [...this.trainGraph.trainable, ...this.trainGraph.state.map((s) => s.name)];
    const hooks: Record<string, JsonValue> = {};
    for (const h of this.opts.hooks ?? []) if (h.state) hooks[h.name] = h.state();
    if (this.scaling) hooks[LOSS_SCALE_STATE] = { scale: this.lossScaleValue, goodSteps: this.goodSteps, skipped: this.skippedCount };
    return {
      step: this.stepCount,
      microStep: this.microCount,
      seed: this.seed,
      data: this.opts.data.position(),
      tensors: await this.executable.getParameters(names),
      hooks,
    };
  }

  async restore(s: TrainerState): Promise<void> {
    if (s.seed !== this.seed) throw new TrainStateError(`checkpoint was trained with seed ${s.seed} but this run uses seed ${this.seed}; pass --seed ${s.seed} to resume it`);
    const expected = [...this.trainGraph.trainable, ...this.trainGraph.state.map((x) => x.name)];
    const missing = expected.filter((n) => !(n in s.tensors));
    if (missing.length) {
      throw new TrainStateError(`checkpoint lacks ${missing.length} tensor(s) this run needs (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); resume with the same variant, targets, optimizer and accumulation settings`);
    }
    const values: Record<string, HostTensor> = {};
    for (const n of expected) values[n] = s.tensors[n];
    await this.executable.setParameters(values);
    this.opts.data.seek(s.data);
    for (const h of this.opts.hooks ?? []) if (h.restore && s.hooks[h.name] !== undefined) h.restore(s.hooks[h.name]);
    const scaler = s.hooks[LOSS_SCALE_STATE] as { scale?: unknown; goodSteps?: unknown; skipped?: unknown } | undefined;
    if (this.scaling && scaler && typeof scaler.scale === 'number' && scaler.scale > 0) {
      this.lossScaleValue = scaler.scale;
      this.goodSteps = typeof scaler.goodSteps === 'number' ? scaler.goodSteps : 0;
      this.skippedCount = typeof scaler.skipped === 'number' ? scaler.skipped : 0;
    }
    this.stepCount = s.step;
    this.microCount = s.microStep;
  }

  dispose(): void {
    this.executable.dispose();
    this.evalExe?.dispose();
    this.evalExe = undefined;
  }
}
