import { gradTrainable } from '../autodiff/grad.js';
import type { Signature } from '../backend/backend.js';
import { GraphError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add, cast, equal, greater, logicalAnd, minimum, mul, sqrt, where, div } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Shape } from '../shape.js';
import { TrainConfigError } from './errors.js';
import { emitUpdate, validateOptimizer, type OptimizerConfig } from './optimizer.js';
import { remakeFrozenValuesInBackward } from './remake-frozen.js';
import { stepGraphRecorder, type StepGraphContext } from './step-graph-extension.js';

export const LOSS_OUTPUT = 'loss';
export const GRAD_NORM_OUTPUT = 'grad_norm';
/** Weight of this micro-batch's mean gradient in the accumulated batch gradient (its share of the tokens). */
export const MICRO_WEIGHT_INPUT = 'optim.weight';
/** 1 on the micro-batch that completes a batch (the optimizer step), 0 before it. */
export const APPLY_INPUT = 'optim.apply';
/** 1 when the step's loss and gradient norm are finite (the update was applied), 0 when it was held back. */
export const STEP_OK_OUTPUT = 'step_ok';
/** Dynamic loss scale (only with `lossScaling`): gradients are taken of loss × scale, then divided by it. */
export const LOSS_SCALE_INPUT = 'optim.loss_scale';

export interface TrainGraphOptions {
  readonly optimizer: OptimizerConfig;
  /** Clip the global gradient norm to this value (PyTorch's clip_grad_norm_); off when undefined or 0. */
  readonly maxGradNorm?: number;
  /** Micro-batches per optimizer step (default 1). */
  readonly accumulationSteps?: number;
  /** Also output `grad:<name>`, the (accumulated, unclipped) gradient of each trainable parameter. */
  readonly exposeGradients?: boolean;
  /** Differentiate loss × `optim.loss_scale` and unscale the gradients (dynamic loss scaling). */
  readonly lossScaling?: boolean;
  /** Hooks' additions to the step graph (state, masks on new values), in order; see `StepHook.extendStep`. */
  readonly extensions?: readonly ((ctx: StepGraphContext) => void)[];
}

/** True where x is finite: x·0 is 0 for finite x and NaN for ±Inf and NaN. */
const isFiniteTensor = (x: Tensor): Tensor => equal(mul(x, 0), 0);

/** Resident state the training graph owns besides the model's parameters. */
export interface StateInfo {
  readonly name: string;
  readonly shape: Shape;
  readonly kind: 'optimizer' | 'accumulator' | 'hook';
  /** Starting value of every element (0 unless a hook declared otherwise). */
  readonly init?: number;
}

export interface TrainGraph {
  readonly graph: Graph;
  readonly signature: Signature;
  readonly trainable: readonly string[];
  readonly state: readonly StateInfo[];
  readonly accumulationSteps: number;
}

export const newValueName = (param: string): string => `new:${param}`;
export const gradName = (param: string): string => `grad:${param}`;

/**
 * Turns a forward graph with a scalar loss into one training step: gradients
 * of every trainable parameter, optional gradient accumulation and global-norm
 * clipping, and the optimizer update, all in the graph. New parameter and state
 * values are outputs `new:<name>` wired through `Signature.updates`, so they
 * stay on the backend between steps.
 *
 * Accumulation runs the same graph for every micro-batch: it adds the weighted
 * gradient into `accum.<name>`, and on the micro-batch fed `optim.apply = 1` it
 * also steps the optimizer and clears the accumulator. `where` selects exact
 * old values on the other micro-batches, so nothing drifts.
 */
export function buildTrainGraph(graph: Graph, loss: Tensor, opts: TrainGraphOptions): TrainGraph {
  validateOptimizer(opts.optimizer);
  const k = opts.accumulationSteps ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new TrainConfigError('accumulationSteps', k, 'an integer >= 1');
  const maxNorm = opts.maxGradNorm ?? 0;
  if (!(maxNorm >= 0)) throw new TrainConfigError('maxGradNorm', maxNorm, 'a number >= 0 (0 turns clipping off)');
  graph.assertOwn(loss);
  const scale = opts.lossScaling ? graph.at('', [], () => graph.input(LOSS_SCALE_INPUT, [], 'f32')) : undefined;
  const grads = gradTrainable(scale ? graph.at('', [], () => mul(loss, scale)) : loss);
  if (grads.size === 0) throw new GraphError('the graph has no trainable parameter; mark adapter parameters trainable before building a training step');
  graph.output(LOSS_OUTPUT, loss);

  const updates: Record<string, string> = {};
  const state: StateInfo[] = [];
  const extraOutputs: string[] = [];
  const setUpdate = (name: string, value: Tensor) => {
    graph.output(newValueName(name), value);
    updates[name] = newValueName(name);
  };

  graph.at('', [], () => {
    let apply: Tensor | undefined;
    const total = new Map<string, Tensor>();
    const unscaled = new Map([...grads].map(([n, g]) => [n, scale ? div(g, scale) : g] as const));
    if (k === 1) {
      for (const [n, g] of unscaled) total.set(n, g);
    } else {
      const weight = graph.input(MICRO_WEIGHT_INPUT, [], 'f32');
      apply = greater(graph.input(APPLY_INPUT, [], 'f32'), 0.5);
      for (const [n, g] of unscaled) {
        const accName = `accum.${n}`;
        const acc = graph.param(accName, g.shape);
        const t = add(acc, mul(g, weight));
        total.set(n, t);
        state.push({ name: accName, shape: g.shape, kind: 'accumulator' });
        setUpdate(accName, where(apply, 0, t));
      }
    }
    if (opts.exposeGradients) for (const [n, t] of total) graph.output(gradName(n), t);

    const squares = [...total.values()].map((t) => sum(mul(t, t)));
    const norm = sqrt(squares.reduce((a, b) => add(a, b)));
    graph.output(GRAD_NORM_OUTPUT, norm);
    // PyTorch's rule: scale by max_norm / (norm + 1e-6) when that is below 1.
    // A non-finite loss or gradient holds back the whole update (parameters and optimizer state keep their values).
    const ok = logicalAnd(isFiniteTensor(loss), isFiniteTensor(norm));
    graph.output(STEP_OK_OUTPUT, cast(ok, 'f32'));
    const commit = apply ? logicalAnd(apply, ok) : ok;
    const coef = maxNorm > 0 ? minimum(div(maxNorm, add(norm, 1e-6)), 1) : undefined;

    const extensions = opts.extensions ?? [];
    const newValues = new Map<string, Tensor>();
    for (const [n, t] of total) {
      const p = graph.paramTensor(n);
      const g = coef ? mul(t, coef) : t;
      const u = emitUpdate(graph, n, p, g, opts.optimizer);
      newValues.set(n, where(commit, u.next, p));
      // Without hooks in the graph the outputs keep their historical order (the same graph, the same ONNX model).
      if (extensions.length === 0) setUpdate(n, newValues.get(n)!);
      for (const s of u.state) {
        state.push({ name: s.name, shape: s.value.shape, kind: 'optimizer' });
        setUpdate(s.name, where(commit, s.next, s.value));
      }
    }
    if (extensions.length > 0) {
      const recorder = stepGraphRecorder(graph, total, newValues, commit);
      for (const extend of extensions) extend(recorder.context);
      for (const s of recorder.states) {
        state.push({ name: s.name, shape: s.shape, kind: 'hook', init: s.init });
        if (s.next) setUpdate(s.name, s.next);
      }
      for (const [name, value] of recorder.outputs) {
        graph.output(name, value);
        extraOutputs.push(name);
      }
      for (const [n, v] of newValues) setUpdate(n, v);
    }
  });

  const outputs = [LOSS_OUTPUT, GRAD_NORM_OUTPUT, STEP_OK_OUTPUT, ...(opts.exposeGradients ? [...grads.keys()].map(gradName) : []), ...extraOutputs];
  // Upcast or dequantized frozen weights are made again where the backward reads them, not kept from the forward.
  const roots = [...new Set([...outputs, ...Object.values(updates)])].map((o) => graph.outputTensor(o).id);
  remakeFrozenValuesInBackward(graph, roots, (name) => !graph.params.get(name)!.trainable && !(name in updates));
  return { graph, signature: { outputs, updates }, trainable: [...grads.keys()], state, accumulationSteps: k };
}
