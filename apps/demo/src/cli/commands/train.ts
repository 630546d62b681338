import { ops, Trainer, type EvalMetrics, type ForwardGraph, type Graph, type JsonValue, type StepMetrics, type Tensor } from '@lowrank/core';
import type { CheckpointingChoice } from '../checkpointing.js';
import { checkpointingText, toCorePolicy } from '../checkpointing.js';
import type { BackendName, VariantName } from '../command-options.js';
import { CliOptionError, InterruptedError } from '../errors.js';
import { LoadProgress } from '../load-progress.js';
import { Progress, progressMode, type ProgressOutput } from '../progress.js';
import { checkSameRun, findLatestCheckpoint, saveRunCheckpoint } from '../run-checkpoint.js';
import { adaptModel } from '../runtime/adapters.js';
import type { BaseDtypeName } from '../runtime/base-dtype.js';
import { createBackend } from '../runtime/backends.js';
import { openCommandModel } from '../runtime/command-model.js';
import { heldOutBatches, prepareTrainData } from '../runtime/dataset.js';
import { lmLossBuilder } from '../runtime/lm-graph.js';

export interface TrainArgs {
  model: string;
  data: string;
  validationData?: string;
  validationFraction: number;
  adapter?: string;
  variant: VariantName;
  r: number;
  alpha: number;
  dropout: number;
  target?: string[];
  /** Precision of the frozen base: f32|bf16|f16, or nf4|fp4 (4-bit); default the checkpoint's (nf4 for qlora). */
  baseDtype?: BaseDtypeName;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmupSteps: number;
  steps: number;
  batchSize: number;
  gradAccum: number;
  maxGradNorm: number;
  seqLen: number;
  layout: 'padding' | 'packing';
  /** Which tokens carry the loss: assistant turns / completions (the default), or all. */
  trainOn?: 'assistant' | 'all';
  backend: BackendName;
  checkpointing: CheckpointingChoice;
  seed: number;
  out: string;
  evalEvery: number;
  saveEvery: number;
  resume: boolean;
  maxEvalBatches: number;
  json: boolean;
}

export interface TrainSummary {
  readonly steps: number;
  readonly initialEvalLoss: number | null;
  readonly finalEvalLoss: number;
  readonly finalTrainLoss: number | null;
  readonly losses: readonly number[];
  readonly adapterDir: string;
  readonly resumedFrom: string | null;
  readonly seconds: number;
}

/** Settings that must match for a checkpoint to resume this run. */
function runIdentity(a: TrainArgs): Record<string, JsonValue> {
  return {
    model: a.model,
    data: a.data,
    validationData: a.validationData ?? null,
    validationFraction: a.validationFraction,
    adapter: a.adapter ?? null,
    variant: a.variant,
    r: a.r,
    alpha: a.alpha,
    dropout: a.dropout,
    target: a.target ?? null,
    optimizer: a.optimizer,
    lr: a.lr,
    weightDecay: a.weightDecay,
    schedule: a.schedule,
    warmupSteps: a.warmupSteps,
    steps: a.steps,
    batchSize: a.batchSize,
    gradAccum: a.gradAccum,
    maxGradNorm: a.maxGradNorm,
    seqLen: a.seqLen,
    layout: a.layout,
    trainOn: a.trainOn ?? 'assistant',
    seed: a.seed,
    backend: a.backend,
    // Only when given, so checkpoints written before --base-dtype existed still resume.
    ...(a.baseDtype ? { baseDtype: a.baseDtype } : {}),
  };
}

/** Adds a variant's extra loss term (AdaLoRA's orthogonality regularizer) to the LM loss. */
function withLossTerm(build: (mode: { training: boolean }) => ForwardGraph, term?: (graph: Graph) => Tensor | undefined): (mode: { training: boolean }) => ForwardGraph {
  if (!term) return build;
  return (mode) => {
    const f = build(mode);
    const extra = term(f.graph);
    return extra ? { graph: f.graph, loss: f.graph.at('', [], () => ops.add(f.loss, extra)) } : f;
  };
}

/** `lowrank train`: fine-tunes adapters and writes a PEFT adapter directory to --out. */
export async function runTrain(a: TrainArgs, out: ProgressOutput): Promise<TrainSummary> {
  const mode = progressMode(a.json, out);
  const loading = new LoadProgress(mode, out);
  // Everything that can be wrong with the options, tokenizer, data or a checkpoint to resume is found before any tensor byte is read.
  const { base, tokenizer, adaptOptions, meter } = await openCommandModel(a, loading);
  const maxPos = base.model.cacheLayout().maxPositions;
  if (a.seqLen > maxPos) throw new CliOptionError('seq-len', a.seqLen, `an integer <= ${maxPos} (the model's max_position_embeddings)`);
  const data = await prepareTrainData({ ...a, validationData: a.validationData }, tokenizer);
  const evalSet = heldOutBatches(data.validation, a.batchSize, a.maxEvalBatches);
  const run = runIdentity(a);
  const resumeFrom = a.resume ? await findLatestCheckpoint(a.out) : undefined;
  if (resumeFrom) checkSameRun(resumeFrom.run, run, resumeFrom.dir);
  const progress = new Progress(mode, out, a.steps);
  for (const n of data.notes) progress.note(n.text, n.fields);
  for (const n of base.notes) progress.note(n);
  const adapted = await adaptModel(base, { variant: a.variant, r: a.r, alpha: a.alpha, dropout: a.dropout, targets: a.target, seed: a.seed, steps: a.steps }, a.adapter, adaptOptions);
  const backend = await createBackend(a.backend);
  const trainer = await Trainer.create({
    backend,
    build: withLossTerm(lmLossBuilder(base.model, a.batchSize, a.seqLen, adapted.setTraining), adapted.lossTerm),
    parameters: adapted.values,
    exposeGradients: adapted.exposeGradients,
    optimizer: a.optimizer === 'adamw' ? { kind: 'adamw', lr: a.lr, weightDecay: a.weightDecay } : { kind: 'sgd', lr: a.lr, weightDecay: a.weightDecay },
    schedule: { kind: a.schedule, warmupSteps: a.warmupSteps },
    steps: a.steps,
    accumulationSteps: a.gradAccum,
    maxGradNorm: a.maxGradNorm,
    seed: a.seed,
    data: data.stream,
    eval: { every: a.evalEvery > 0 ? a.evalEvery : a.steps, batches: () => evalSet },
    // Every adapted module's rank goes into the step metrics; a hook that changes ranks reports its own over these.
    hooks: [{ name: 'ranks', metrics: () => ({ activeRanks: adapted.ranks }) }, ...adapted.hooks],
    checkpointing: toCorePolicy(a.checkpointing),
  });
  loading.loaded(meter);
  const losses: number[] = [];
  let lastEval: EvalMetrics | undefined;
  trainer.subscribe((m) => {
    if (m.type === 'step') {
      if (losses.length === 0) loading.firstStep();
      losses.push(m.loss);
      progress.step(m as StepMetrics);
    } else {
      lastEval = m;
      progress.eval(m);
    }
  });
  const save = async (t: Trainer) =>
    saveRunCheckpoint(a.out, await t.state(), { run, writeAdapter: async (dir) => adapted.saveAdapter(dir, await t.trainableValues()) });

  let resumedFrom: string | null = null;
  let initialEvalLoss: number | null = null;
  const started = performance.now();
  if (a.resume) {
    const ck = resumeFrom;
    if (ck) {
      await trainer.restore(ck.state);
      resumedFrom = ck.dir;
      progress.note(`resumed from ${ck.dir} at step ${ck.state.step}`, { resumedFrom: ck.dir, step: ck.state.step });
    } else progress.note(`--resume: no checkpoint in ${a.out}/checkpoints yet; starting from step 0`);
  }
  const plan = trainer.memoryPlan;
  progress.note(
    `training ${adapted.trainable.length} adapter tensors (${a.variant}, r=${adapted.config.r}) on ${base.source} (base ${adaptOptions.quantize ?? base.baseDtype}) with backend ${a.backend}; ${data.trainSequences} train / ${data.validation.length} held-out sequences; ` +
      `checkpointing ${checkpointingText(a.checkpointing)}: planned peak ${(plan.plannedPeakBytes / 1e6).toFixed(2)} MB (activations ${(plan.atPeak.activations / 1e6).toFixed(2)} MB), ${trainer.checkpointReport.recomputedOps} ops recomputed`,
    { plannedPeakBytes: plan.plannedPeakBytes, plannedActivationBytes: plan.atPeak.activations, recomputedOps: trainer.checkpointReport.recomputedOps },
  );
  if (!resumedFrom) initialEvalLoss = (await trainer.evaluate()).loss;

  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await trainer.run({
      afterStep: async (t) => {
        if (a.saveEvery > 0 && t.step % a.saveEvery === 0 && t.step < a.steps) {
          const dir = await save(t);
          progress.note(`checkpoint saved: ${dir}`, { checkpoint: dir, step: t.step });
        }
        if (stop) {
          const dir = await save(t);
          progress.note(`interrupted: checkpoint saved to ${dir}; continue with --resume`, { checkpoint: dir, step: t.step });
          throw new InterruptedError();
        }
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const finalEval = lastEval && lastEval.step === trainer.step ? lastEval : await trainer.evaluate();
  await save(trainer);
  await adapted.saveAdapter(a.out, await trainer.trainableValues());
  trainer.dispose();
  backend.dispose();
  return {
    steps: trainer.step,
    initialEvalLoss,
    finalEvalLoss: finalEval.loss,
    finalTrainLoss: losses.at(-1) ?? null,
    losses,
    adapterDir: a.out,
    resumedFrom,
    seconds: (performance.now() - started) / 1000,
  };
}

export { InterruptedError };
