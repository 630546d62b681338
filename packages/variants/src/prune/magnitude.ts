import { ops, type AfterStepContext, type HookMetric, type HostTensor, type JsonValue, type Module, type StepContext, type StepGraphContext, type StepHook, type Tensor } from '@lowrank/core';
import type { AppliedAdaLora } from '../adalora/apply.js';
import { absOf } from '../adalora/importance-graph.js';
import type { AdaLoraLayer } from '../adalora/layer.js';
import { keepFlagsByLayer, rankDistribution } from '../adalora/masking.js';
import { loraLayers } from '../apply.js';
import type { LoraConfig } from '../config.js';
import { AdapterConfigError } from '../errors.js';

export interface MagnitudePruneOptions {
  /** Singular values with |E_i| below this are pruned. */
  readonly threshold: number;
  /** First step that prunes (default 0). */
  readonly start?: number;
  /** Steps between two pruning passes (default 1). */
  readonly every?: number;
  /** No layer goes below this rank (default 1). */
  readonly minRank?: number;
}

/** Per-step switches the host feeds from the pruning schedule. */
export const PRUNE_NOW_INPUT = 'prune.now';
export const PRUNE_MASK_INPUT = 'prune.mask';
/** Resident keep-mask over all singular values (layer by layer), and its per-step output. */
export const PRUNE_KEEP = 'prune.keep';

/**
 * The lighter rank-pruning policy: no sensitivity statistics, just the
 * magnitude of each singular value |E_i| against a threshold, applied every
 * `every` steps on AdaLoRA's SVD layers. Pruned components stay pruned.
 * The keep-mask is state of the step graph and the masking happens there, after
 * the update; the host feeds two scalars per step and reads the mask back
 * (one float per singular value) for the metrics.
 */
export class MagnitudeRankPruner implements StepHook {
  readonly name = 'magnitude-prune';
  readonly history: { step: number; totalRank: number }[] = [];
  private readonly layers: readonly AdaLoraLayer[];
  private keep: boolean[][];

  constructor(
    applied: AppliedAdaLora,
    private readonly opts: MagnitudePruneOptions,
  ) {
    if (!(opts.threshold >= 0)) throw new AdapterConfigError('threshold', `must be >= 0, got ${opts.threshold}`);
    for (const [k, v, min] of [['start', opts.start, 0], ['every', opts.every, 1], ['minRank', opts.minRank, 0]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new AdapterConfigError(k, `must be an integer >= ${min}, got ${v}`);
    }
    this.layers = applied.layers.filter((l) => l.r > 0);
    this.keep = this.layers.map((l) => Array<boolean>(l.r).fill(true));
  }

  extendStep(ctx: StepGraphContext): void {
    if (this.layers.length === 0) return;
    const on = (name: string): Tensor => ops.logicalAnd(ctx.commit, ops.greater(ctx.input(name), 0.5));
    const prune = on(PRUNE_NOW_INPUT);
    const mask = on(PRUNE_MASK_INPUT);
    const total = this.layers.reduce((s, l) => s + l.r, 0);
    const keep = ctx.state(PRUNE_KEEP, [total], 1);
    const next: Tensor[] = [];
    let offset = 0;
    for (const l of this.layers) {
      const name = l.paramName('lora_E');
      const e = ctx.newValue(name);
      const prev = ops.greater(ops.slice(keep, [offset], [offset + l.r]), 0.5);
      const kept = ops.where(prune, keptAfterPruning(ctx, e, prev, this.opts.threshold, Math.min(this.opts.minRank ?? 1, l.r)), prev);
      next.push(ops.cast(kept, 'f32'));
      ctx.setNewValue(name, ops.where(mask, ops.where(ops.reshape(kept, [l.r, 1]), e, 0), e));
      offset += l.r;
    }
    const nextKeep = next.length === 1 ? next[0] : ops.concat(next, 0);
    ctx.setState(PRUNE_KEEP, nextKeep);
    ctx.output(PRUNE_KEEP, nextKeep);
  }

  private pruneStep(step: number): boolean {
    const start = this.opts.start ?? 0;
    return step >= start && (step - start) % (this.opts.every ?? 1) === 0;
  }

  feeds(ctx: StepContext): Record<string, HostTensor> {
    const f = (v: boolean): HostTensor => ({ shape: [], dtype: 'f32', data: Float32Array.of(v ? 1 : 0) });
    // Once the first pass has run, the mask is applied after every update (pruned values stay zero).
    return { [PRUNE_NOW_INPUT]: f(this.pruneStep(ctx.step)), [PRUNE_MASK_INPUT]: f(ctx.step >= (this.opts.start ?? 0)) };
  }

  afterStep(ctx: AfterStepContext): void {
    const keep = ctx.outputs[PRUNE_KEEP]?.data;
    if (keep) this.keep = keepFlagsByLayer(keep, this.layers);
    this.history.push({ step: ctx.step, totalRank: Object.values(this.activeRanks()).reduce((a, b) => a + b, 0) });
  }

  activeRanks(): Record<string, number> {
    return Object.fromEntries(this.layers.map((l, i) => [l.path, this.keep[i].filter(Boolean).length]));
  }

  rankDistribution(): Record<number, number> {
    return rankDistribution(this.activeRanks());
  }

  metrics(): Record<string, HookMetric> {
    const ranks = this.activeRanks();
    return { activeRanks: ranks, rankDistribution: Object.fromEntries(Object.entries(rankDistribution(ranks)).map(([k, v]) => [String(k), v])) };
  }

  rankPattern(): Record<string, boolean[]> {
    return Object.fromEntries(this.layers.map((l, i) => [l.paramName('lora_E'), [...this.keep[i]]]));
  }

  state(): JsonValue {
    return Object.fromEntries(this.layers.map((l, i) => [l.path, this.keep[i]]));
  }

  restore(s: JsonValue): void {
    const o = s as Record<string, boolean[]>;
    this.keep = this.layers.map((l, i) => (o[l.path] ? [...o[l.path]] : this.keep[i]));
  }
}

/**
 * One pruning pass on a layer, in the graph: keep i while it was kept and
 * |E_i| ≥ threshold; when that leaves fewer than `minRank`, also keep the
 * `minRank` largest |E_i| among those kept before (ties to the lower index).
 */
function keptAfterPruning(ctx: StepGraphContext, e: Tensor, prev: Tensor, threshold: number, minRank: number): Tensor {
  const r = e.shape[0];
  const mag = absOf(ops.reshape(e, [r]));
  const passed = ops.logicalAnd(prev, ops.greaterEqual(mag, threshold));
  const short = ops.less(ops.sum(ops.cast(passed, 'f32')), minRank);
  // ahead[i, j]: j was kept and comes before i in descending |E| order (a stable sort's order).
  const row = (t: Tensor) => ops.reshape(t, [1, r]);
  const col = (t: Tensor) => ops.reshape(t, [r, 1]);
  const lowerIndex = ops.greater(ops.constant(ctx.graph, Array.from({ length: r * r }, (_, k) => (k % r < Math.floor(k / r) ? 1 : 0)), [r, r]), 0.5);
  const before = ops.logicalOr(ops.greater(row(mag), col(mag)), ops.logicalAnd(ops.equal(row(mag), col(mag)), lowerIndex));
  const ahead = ops.logicalAnd(before, row(prev));
  const largest = ops.logicalAnd(prev, ops.less(ops.sum(ops.cast(ahead, 'f32'), [1]), minRank));
  return ops.logicalOr(passed, ops.logicalAnd(short, largest));
}

/**
 * Magnitude pruning of a plain LoRA adapter: component i of a layer has
 * magnitude ||B[:, i]||·||A[i, :]||; components below `relativeThreshold` × the
 * layer's largest are removed from A and B. The layer's new rank goes into
 * rank_pattern and alpha_pattern keeps its scale alpha/r, so the kept
 * components give exactly the same delta.
 */
export function pruneLoraByMagnitude(
  model: Module,
  trained: Readonly<Record<string, HostTensor>>,
  config: LoraConfig,
  relativeThreshold: number,
  adapter = 'default',
): { config: LoraConfig; tensors: Record<string, HostTensor>; ranks: Record<string, number> } {
  if (!(relativeThreshold >= 0 && relativeThreshold < 1)) throw new AdapterConfigError('relativeThreshold', `must be in [0, 1), got ${relativeThreshold}`);
  const tensors: Record<string, HostTensor> = {};
  const rankPattern: Record<string, number> = { ...(config.rank_pattern ?? {}) };
  const alphaPattern: Record<string, number> = { ...(config.alpha_pattern ?? {}) };
  const ranks: Record<string, number> = {};
  for (const layer of loraLayers(model).values()) {
    const a = layer.adapters.get(adapter);
    if (!a) continue;
    const A = trained[layer.paramName('lora_A', adapter)];
    const B = trained[layer.paramName('lora_B', adapter)];
    if (!A || !B) throw new AdapterConfigError('tensors', `no trained values for the adapter of '${layer.path}'`);
    const [r, inF] = A.shape;
    const outF = B.shape[0];
    const mag = Array.from({ length: r }, (_, i) => {
      let na = 0;
      let nb = 0;
      for (let j = 0; j < inF; j++) na += Number(A.data[i * inF + j]) ** 2;
      for (let o = 0; o < outF; o++) nb += Number(B.data[o * r + i]) ** 2;
      return Math.sqrt(na * nb);
    });
    const top = mag.reduce((m, v) => Math.max(m, v), -Infinity);
    let idx = mag.flatMap((m, i) => (m >= relativeThreshold * top ? [i] : []));
    if (idx.length === 0) idx = [mag.indexOf(top)];
    const k = idx.length;
    tensors[layer.paramName('lora_A', adapter)] = { shape: [k, inF], dtype: 'f32', data: Float32Array.from(idx.flatMap((i) => Array.from(A.data.subarray(i * inF, (i + 1) * inF) as ArrayLike<number>))) };
    const bData = new Float32Array(outF * k);
    for (let o = 0; o < outF; o++) idx.forEach((i, j) => (bData[o * k + j] = Number(B.data[o * r + i])));
    tensors[layer.paramName('lora_B', adapter)] = { shape: [outF, k], dtype: 'f32', data: bData };
    ranks[layer.path] = k;
    if (k !== a.r) {
      rankPattern[layer.path] = k;
      // scaling = alpha / r must not change when r shrinks.
      if (config.use_rslora) alphaPattern[layer.path] = a.scaling * Math.sqrt(k);
      else alphaPattern[layer.path] = a.scaling * k;
    }
  }
  return { config: { ...config, rank_pattern: rankPattern, alpha_pattern: alphaPattern }, tensors, ranks };
}
