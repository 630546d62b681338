import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add, div, mul, sqrt, sub } from '../ops/elementwise.js';
import { TrainConfigError } from './errors.js';

/** AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, bias-corrected moments. */
export interface AdamWConfig {
  readonly kind: 'adamw';
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /** Decoupled decay: p ← p − lr·wd·p before the Adam step (default 0, as the Hugging Face Trainer). */
  readonly weightDecay?: number;
}

/** Plain SGD with optional heavy-ball momentum and L2 weight decay, as torch.optim.SGD. */
export interface SgdConfig {
  readonly kind: 'sgd';
  readonly lr: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;
export const OPTIMIZER_KINDS = ['adamw', 'sgd'] as const;

/** Names of the scalar f32 inputs the optimizer reads each step (fed by the host, so no recompile). */
export const LR_INPUT = 'optim.lr';
export const BIAS1_INPUT = 'optim.bc1';
export const BIAS2_INPUT = 'optim.bc2';

/** A piece of optimizer state: a non-trainable parameter kept resident and updated in-graph. */
export interface StateSlot {
  readonly name: string;
  readonly value: Tensor;
  readonly next: Tensor;
}

export interface ParamUpdate {
  readonly next: Tensor;
  readonly state: readonly StateSlot[];
}

export function validateOptimizer(c: OptimizerConfig): void {
  if (!OPTIMIZER_KINDS.includes(c.kind)) throw new TrainConfigError('optimizer', c.kind, OPTIMIZER_KINDS.join(', '));
  if (!(Number.isFinite(c.lr) && c.lr >= 0)) throw new TrainConfigError('lr', c.lr, 'a finite number >= 0');
  if (c.kind === 'adamw') {
    for (const [k, v] of [['beta1', c.beta1], ['beta2', c.beta2]] as const) {
      if (v !== undefined && !(v >= 0 && v < 1)) throw new TrainConfigError(k, v, 'a number in [0, 1)');
    }
    if (c.eps !== undefined && !(c.eps > 0)) throw new TrainConfigError('eps', c.eps, 'a number > 0');
  } else if (c.momentum !== undefined && !(c.momentum >= 0 && c.momentum < 1)) {
    throw new TrainConfigError('momentum', c.momentum, 'a number in [0, 1)');
  }
  if (c.weightDecay !== undefined && !(c.weightDecay >= 0)) throw new TrainConfigError('weightDecay', c.weightDecay, 'a number >= 0');
}

/** The optimizer's scalar inputs, creating them on first use. */
function scalarInput(graph: Graph, name: string): Tensor {
  const info = graph.inputs.get(name);
  return info ? graph.tensor(info.id) : graph.at('', [], () => graph.input(name, [], 'f32'));
}

/**
 * Emits one optimizer update of parameter `param` with gradient `grad` into
 * the graph and returns the new value and the state it reads and writes.
 */
export function emitUpdate(graph: Graph, name: string, param: Tensor, grad: Tensor, c: OptimizerConfig): ParamUpdate {
  const lr = scalarInput(graph, LR_INPUT);
  const wd = c.weightDecay ?? 0;
  if (c.kind === 'sgd') {
    const g = wd > 0 ? add(grad, mul(param, wd)) : grad;
    const momentum = c.momentum ?? 0;
    if (momentum === 0) return { next: sub(param, mul(g, lr)), state: [] };
    const bufName = `optim.momentum.${name}`;
    const buf = graph.param(bufName, param.shape);
    const nextBuf = add(mul(buf, momentum), g);
    return { next: sub(param, mul(nextBuf, lr)), state: [{ name: bufName, value: buf, next: nextBuf }] };
  }
  const beta1 = c.beta1 ?? 0.9;
  const beta2 = c.beta2 ?? 0.999;
  const eps = c.eps ?? 1e-8;
  const bc1 = scalarInput(graph, BIAS1_INPUT);
  const bc2 = scalarInput(graph, BIAS2_INPUT);
  const mName = `optim.m.${name}`;
  const vName = `optim.v.${name}`;
  const m = graph.param(mName, param.shape);
  const v = graph.param(vName, param.shape);
  const nextM = add(mul(m, beta1), mul(grad, 1 - beta1));
  const nextV = add(mul(v, beta2), mul(mul(grad, grad), 1 - beta2));
  const decayed = wd > 0 ? sub(param, mul(mul(param, lr), wd)) : param;
  const step = div(div(nextM, bc1), add(sqrt(div(nextV, bc2)), eps));
  return {
    next: sub(decayed, mul(step, lr)),
    state: [
      { name: mName, value: m, next: nextM },
      { name: vName, value: v, next: nextV },
    ],
  };
}

/** Host-side values of the optimizer's scalar inputs for 0-based optimizer step `step`. */
export function optimizerScalars(c: OptimizerConfig, step: number, lr: number): Record<string, number> {
  if (c.kind === 'sgd') return { [LR_INPUT]: lr };
  const t = step + 1;
  return {
    [LR_INPUT]: lr,
    [BIAS1_INPUT]: 1 - Math.pow(c.beta1 ?? 0.9, t),
    [BIAS2_INPUT]: 1 - Math.pow(c.beta2 ?? 0.999, t),
  };
}
