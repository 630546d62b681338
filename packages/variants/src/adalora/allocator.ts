import { ops, type AfterStepContext, type HookMetric, type HostTensor, type JsonValue, type StepContext, type StepGraphContext, type StepHook, type Tensor } from '@lowrank/core';
import type { AppliedAdaLora } from './apply.js';
import { budgetAt } from './config.js';
import { smoothedScore, survivesDrop, tripletScores } from './importance-graph.js';
import type { AdaLoraLayer } from './layer.js';
import { keepFlagsByLayer, rankDistribution } from './masking.js';

export interface BudgetRecord {
  readonly step: number;
  /** The schedule's budget at this step. */
  readonly budget: number;
  /** Components kept over all layers after this step's allocation. */
  readonly totalRank: number;
  readonly reallocated: boolean;
}

/** Per-step switches the host feeds (it knows the schedule); every tensor stays on the backend. */
export const ADALORA_UPDATE_INPUT = 'adalora.update';
export const ADALORA_REALLOCATE_INPUT = 'adalora.reallocate';
export const ADALORA_MASK_INPUT = 'adalora.mask';
/** Triplets to drop at a reallocation: init budget − the schedule's budget. */
export const ADALORA_DROP_INPUT = 'adalora.drop';
/** Resident keep-mask over all triplets (layer by layer, 1 kept, 0 dropped), and its per-step output. */
export const ADALORA_KEEP = 'adalora.keep';
/** Mean triplet score per layer at the last reallocation, and its output. */
export const ADALORA_IMPORTANCE = 'adalora.importance';

/** What the schedule asks of step `step` (0-based optimizer step). */
export interface AdaLoraStepPlan {
  readonly budget: number;
  /** Fold this step's sensitivity into the averages. */
  readonly update: boolean;
  /** Recompute the keep-mask from the scores. */
  readonly reallocate: boolean;
  /** Zero the dropped singular values after the update. */
  readonly mask: boolean;
}

/** PEFT's update_and_allocate decisions: averages until total_step − tfinal, budgets between tinit and it, then the final pattern every step. */
export function adaLoraStepPlan(applied: AppliedAdaLora, layers: number, step: number): AdaLoraStepPlan {
  const c = applied.config;
  const end = c.total_step - c.tfinal;
  const { budget, mask } = budgetAt(c, layers, step);
  if (step > end) return { budget, update: false, reallocate: false, mask: true };
  const reallocate = mask || step === end;
  return { budget, update: step < end, reallocate, mask: reallocate };
}

/**
 * AdaLoRA's RankAllocator as a trainer hook, run inside the step graph: the
 * sensitivity averages (β1), their uncertainty (β2), the triplet scores, the
 * top-k over all layers' triplets and the masking of lora_E are state and ops
 * of the training graph, like the optimizer's moments. The host only feeds
 * four scalars per step from the budget schedule and reads back the keep-mask
 * (one float per triplet) and the per-layer importance (one float per layer)
 * for the metrics: no gradient or parameter leaves the backend.
 */
export class AdaLoraAllocator implements StepHook {
  readonly name = 'adalora';
  readonly history: BudgetRecord[] = [];
  /** Mean triplet score per layer at the last allocation (importance, for plots). */
  importance: Record<string, number> = {};
  private readonly layers: readonly AdaLoraLayer[];
  private keep: boolean[][];
  private lastPlan?: AdaLoraStepPlan;

  constructor(readonly applied: AppliedAdaLora) {
    this.layers = applied.layers.filter((l) => l.r > 0);
    this.keep = this.layers.map((l) => Array<boolean>(l.r).fill(true));
  }

  private get initBudget(): number {
    return this.layers.reduce((s, l) => s + l.r, 0);
  }

  extendStep(ctx: StepGraphContext): void {
    if (this.layers.length === 0) return;
    const { beta1, beta2 } = this.applied.config;
    const on = (name: string): Tensor => ops.logicalAnd(ctx.commit, ops.greater(ctx.input(name), 0.5));
    const update = on(ADALORA_UPDATE_INPUT);
    const reallocate = on(ADALORA_REALLOCATE_INPUT);
    const mask = on(ADALORA_MASK_INPUT);
    const scores = this.layers.map((l) => {
      const [a, b, e] = (['lora_A', 'lora_B', 'lora_E'] as const).map((k) => smoothedScore(ctx, l.paramName(k), update, beta1, beta2));
      return tripletScores(l, a, b, e);
    });
    const all = scores.length === 1 ? scores[0] : ops.concat(scores, 0);
    const keep = ctx.state(ADALORA_KEEP, [this.initBudget], 1);
    const nextKeep = ops.where(reallocate, ops.cast(survivesDrop(all, ctx.input(ADALORA_DROP_INPUT)), 'f32'), keep);
    ctx.setState(ADALORA_KEEP, nextKeep);
    ctx.output(ADALORA_KEEP, nextKeep);
    const importance = ctx.state(ADALORA_IMPORTANCE, [this.layers.length], 0);
    const means = scores.map((s, i) => ops.reshape(ops.div(ops.sum(s), this.layers[i].r), [1]));
    const nextImportance = ops.where(reallocate, means.length === 1 ? means[0] : ops.concat(means, 0), importance);
    ctx.setState(ADALORA_IMPORTANCE, nextImportance);
    ctx.output(ADALORA_IMPORTANCE, nextImportance);
    let offset = 0;
    for (const l of this.layers) {
      const name = l.paramName('lora_E');
      const kept = ops.greater(ops.reshape(ops.slice(nextKeep, [offset], [offset + l.r]), [l.r, 1]), 0.5);
      const e = ctx.newValue(name);
      // PEFT's masked_fill_(…, 0) on lora_E, after the optimizer step.
      ctx.setNewValue(name, ops.where(mask, ops.where(kept, e, 0), e));
      offset += l.r;
    }
  }

  feeds(ctx: StepContext): Record<string, HostTensor> {
    const plan = adaLoraStepPlan(this.applied, this.layers.length, ctx.step);
    this.lastPlan = plan;
    const f = (v: number): HostTensor => ({ shape: [], dtype: 'f32', data: Float32Array.of(v) });
    return {
      [ADALORA_UPDATE_INPUT]: f(plan.update ? 1 : 0),
      [ADALORA_REALLOCATE_INPUT]: f(plan.reallocate ? 1 : 0),
      [ADALORA_MASK_INPUT]: f(plan.mask ? 1 : 0),
      [ADALORA_DROP_INPUT]: f(plan.reallocate ? this.initBudget - plan.budget : 0),
    };
  }

  afterStep(ctx: AfterStepContext): void {
    const keep = ctx.outputs[ADALORA_KEEP]?.data;
    const importance = ctx.outputs[ADALORA_IMPORTANCE]?.data;
    if (keep) this.keep = keepFlagsByLayer(keep, this.layers);
    const plan = this.lastPlan ?? adaLoraStepPlan(this.applied, this.layers.length, ctx.step);
    if (importance && plan.reallocate) this.importance = Object.fromEntries(this.layers.map((l, i) => [l.path, Number(importance[i])]));
    this.history.push({ step: ctx.step, budget: plan.budget, totalRank: this.totalRank, reallocated: plan.reallocate });
  }

  /** Kept components per layer path. */
  activeRanks(): Record<string, number> {
    return Object.fromEntries(this.layers.map((l, i) => [l.path, this.keep[i].filter(Boolean).length]));
  }

  get totalRank(): number {
    return Object.values(this.activeRanks()).reduce((a, b) => a + b, 0);
  }

  rankDistribution(): Record<number, number> {
    return rankDistribution(this.activeRanks());
  }

  metrics(): Record<string, HookMetric> {
    const ranks = this.activeRanks();
    return {
      activeRanks: ranks,
      rankDistribution: Object.fromEntries(Object.entries(rankDistribution(ranks)).map(([k, v]) => [String(k), v])),
      ...(Object.keys(this.importance).length ? { layerImportance: { ...this.importance } } : {}),
    };
  }

  /** PEFT's rank_pattern: keep flags per `<module>.lora_E`. */
  rankPattern(): Record<string, boolean[]> {
    return Object.fromEntries(this.layers.map((l, i) => [l.paramName('lora_E'), [...this.keep[i]]]));
  }

  /** The host's mirror of the mask and importance (the averages themselves are trainer state tensors). */
  state(): JsonValue {
    return { keep: Object.fromEntries(this.layers.map((l, i) => [l.path, this.keep[i]])), importance: this.importance };
  }

  restore(s: JsonValue): void {
    const o = s as { keep?: Record<string, boolean[]>; importance?: Record<string, number> };
    this.keep = this.layers.map((l, i) => (o.keep?.[l.path] ? [...o.keep[l.path]] : this.keep[i]));
    this.importance = { ...(o.importance ?? {}) };
  }
}

/** The tensors of a trained AdaLoRA adapter with pruned triplets physically removed, and the config to save with them. */
export function prunedAdaLoraState(
  applied: AppliedAdaLora,
  trained: Readonly<Record<string, HostTensor>>,
  rankPattern: Readonly<Record<string, readonly boolean[]>>,
): { tensors: Record<string, HostTensor>; rankPattern: Record<string, boolean[]> } {
  const tensors: Record<string, HostTensor> = {};
  const pattern: Record<string, boolean[]> = {};
  for (const l of applied.layers) {
    if (l.r === 0) continue;
    const keepFlags = [...(rankPattern[l.paramName('lora_E')] ?? Array<boolean>(l.r).fill(true))];
    pattern[l.paramName('lora_E')] = keepFlags;
    const idx = keepFlags.flatMap((k, i) => (k ? [i] : []));
    const A = trained[l.paramName('lora_A')];
    const B = trained[l.paramName('lora_B')];
    const E = trained[l.paramName('lora_E')];
    if (idx.length === 0) continue;
    tensors[l.paramName('lora_A')] = pickRows(A, idx);
    tensors[l.paramName('lora_E')] = pickRows(E, idx);
    tensors[l.paramName('lora_B')] = pickCols(B, idx);
  }
  return { tensors, rankPattern: pattern };
}

function pickRows(t: HostTensor, idx: readonly number[]): HostTensor {
  const cols = t.shape[1];
  const out = new Float32Array(idx.length * cols);
  idx.forEach((r, i) => {
    for (let j = 0; j < cols; j++) out[i * cols + j] = Number(t.data[r * cols + j]);
  });
  return { shape: [idx.length, cols], dtype: 'f32', data: out };
}

function pickCols(t: HostTensor, idx: readonly number[]): HostTensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * idx.length);
  for (let i = 0; i < rows; i++) idx.forEach((c, j) => (out[i * idx.length + j] = Number(t.data[i * cols + c])));
  return { shape: [rows, idx.length], dtype: 'f32', data: out };
}
