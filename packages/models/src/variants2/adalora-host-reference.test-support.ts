// The host-side AdaLoRA allocator and magnitude pruner as they were before the
// issue-19 move into the step graph: they download every AdaLoRA gradient and
// parameter after each step and write the masked lora_E back. Kept here only
// as the reference the in-graph hooks are compared against, step by step.
import { gradName, type AfterStepContext, type JsonValue, type StepHook } from '@lowrank/core';
import { budgetAt, maskSingularValues, rankDistribution, ranksOf, type AdaLoraLayer, type AppliedAdaLora, type BudgetRecord, type MagnitudePruneOptions } from '@lowrank/variants';

type Kind = 'lora_A' | 'lora_B' | 'lora_E';
const KINDS: readonly Kind[] = ['lora_A', 'lora_B', 'lora_E'];

/**
 * AdaLoRA's RankAllocator as a trainer hook (run the trainer with
 * `exposeGradients: true`). After each optimizer step it smooths the
 * sensitivity |w·∇w| (β1) and its uncertainty (β2) per entry, scores each
 * singular triplet as s(E_i) + mean s(A_i·) + mean s(B_·i), and on allocation
 * steps zeroes the singular values of the lowest-scoring triplets so that the
 * kept total equals the cubic budget. At total_step - tfinal the pattern is
 * final and is re-applied on every later step.
 */
export class HostAdaLoraAllocator implements StepHook {
  readonly name = 'adalora-host';
  readonly outputs: readonly string[];
  private readonly ipt = new Map<string, Float64Array>();
  private readonly unc = new Map<string, Float64Array>();
  private readonly keep = new Map<AdaLoraLayer, boolean[]>();
  private finalPattern = false;
  readonly history: BudgetRecord[] = [];
  /** Mean triplet score per layer at the last allocation (importance, for plots). */
  importance: Record<string, number> = {};
  private readonly layers: readonly AdaLoraLayer[];

  constructor(readonly applied: AppliedAdaLora) {
    this.layers = applied.layers.filter((l) => l.r > 0);
    this.outputs = this.layers.flatMap((l) => KINDS.map((k) => gradName(l.paramName(k))));
  }

  private get initBudget(): number {
    return this.layers.reduce((s, l) => s + l.r, 0);
  }

  /** Kept components per layer path. */
  activeRanks(): Record<string, number> {
    return ranksOf(this.layers, this.keep);
  }

  get totalRank(): number {
    return Object.values(this.activeRanks()).reduce((a, b) => a + b, 0);
  }

  /** The last allocation's importance per layer, streamed in the trainer's step metrics. */
  layerImportance(): Record<string, number> {
    return { ...this.importance };
  }

  rankDistribution(): Record<number, number> {
    return rankDistribution(this.activeRanks());
  }

  /** PEFT's rank_pattern: keep flags per `<module>.lora_E`. */
  rankPattern(): Record<string, boolean[]> {
    return Object.fromEntries(this.layers.map((l) => [l.paramName('lora_E'), this.keep.get(l) ?? Array<boolean>(l.r).fill(true)]));
  }

  async afterStep(ctx: AfterStepContext): Promise<void> {
    const c = this.applied.config;
    const step = ctx.step;
    const end = c.total_step - c.tfinal;
    if (this.finalPattern || step > end) {
      await maskSingularValues(ctx.executable, this.layers, this.keep);
      this.record(step, budgetAt(c, this.layers.length, step).budget, false);
      return;
    }
    if (step < end) await this.updateImportance(ctx);
    const { budget, mask } = budgetAt(c, this.layers.length, step);
    if (mask || step === end) {
      this.allocate(budget);
      await maskSingularValues(ctx.executable, this.layers, this.keep);
    }
    if (step === end) {
      this.finalPattern = true;
      this.ipt.clear();
      this.unc.clear();
    }
    this.record(step, budget, mask || step === end);
  }

  private record(step: number, budget: number, reallocated: boolean): void {
    this.history.push({ step, budget, totalRank: this.totalRank, reallocated });
  }

  private async updateImportance(ctx: AfterStepContext): Promise<void> {
    const { beta1, beta2 } = this.applied.config;
    const names = this.layers.flatMap((l) => KINDS.map((k) => l.paramName(k)));
    const values = await ctx.executable.getParameters(names);
    for (const n of names) {
      const p = values[n].data;
      const g = ctx.outputs[gradName(n)]?.data;
      if (!g) throw new Error(`AdaLoRA needs the gradient output '${gradName(n)}'; create the Trainer with exposeGradients: true`);
      const avg = this.ipt.get(n) ?? new Float64Array(p.length);
      const unc = this.unc.get(n) ?? new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const s = Math.abs(Number(p[i]) * Number(g[i]));
        avg[i] = beta1 * avg[i] + (1 - beta1) * s;
        unc[i] = beta2 * unc[i] + (1 - beta2) * Math.abs(s - avg[i]);
      }
      this.ipt.set(n, avg);
      this.unc.set(n, unc);
    }
  }

  private score(name: string, i: number): number {
    return (this.ipt.get(name)?.[i] ?? 0) * (this.unc.get(name)?.[i] ?? 0);
  }

  /** Triplet score of each component of a layer. */
  private triplets(l: AdaLoraLayer): Float64Array {
    const out = new Float64Array(l.r);
    const [a, b, e] = [l.paramName('lora_A'), l.paramName('lora_B'), l.paramName('lora_E')];
    for (let i = 0; i < l.r; i++) {
      let sa = 0;
      for (let j = 0; j < l.inFeatures; j++) sa += this.score(a, i * l.inFeatures + j);
      let sb = 0;
      for (let o = 0; o < l.outFeatures; o++) sb += this.score(b, o * l.r + i);
      out[i] = this.score(e, i) + sa / l.inFeatures + sb / l.outFeatures;
    }
    return out;
  }

  /** Masks every triplet scoring at or below the (init - budget)-th smallest score. */
  private allocate(budget: number): void {
    const scores = new Map(this.layers.map((l) => [l, this.triplets(l)] as const));
    const all = [...scores.values()].flatMap((s) => [...s]).sort((x, y) => x - y);
    const k = this.initBudget - budget;
    const threshold = k > 0 ? all[k - 1] : -Infinity;
    this.importance = {};
    for (const [l, s] of scores) {
      this.keep.set(l, [...s].map((v) => !(v <= threshold)));
      this.importance[l.path] = s.reduce((x, y) => x + y, 0) / l.r;
    }
  }

  state(): JsonValue {
    const vec = (m: Map<string, Float64Array>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v]]));
    return {
      ipt: vec(this.ipt),
      unc: vec(this.unc),
      keep: Object.fromEntries([...this.keep].map(([l, k]) => [l.path, k])),
      finalPattern: this.finalPattern,
    };
  }

  restore(s: JsonValue): void {
    const o = s as { ipt: Record<string, number[]>; unc: Record<string, number[]>; keep: Record<string, boolean[]>; finalPattern: boolean };
    this.ipt.clear();
    this.unc.clear();
    for (const [k, v] of Object.entries(o.ipt)) this.ipt.set(k, Float64Array.from(v));
    for (const [k, v] of Object.entries(o.unc)) this.unc.set(k, Float64Array.from(v));
    this.keep.clear();
    for (const l of this.layers) if (o.keep[l.path]) this.keep.set(l, [...o.keep[l.path]]);
    this.finalPattern = o.finalPattern;
  }
}

/**
 * The lighter rank-pruning policy: no sensitivity statistics, just the
 * magnitude of each singular value |E_i| against a threshold, applied every
 * `every` steps on AdaLoRA's SVD layers. Pruned components stay pruned.
 */
export class HostMagnitudeRankPruner implements StepHook {
  readonly name = 'magnitude-prune-host';
  private readonly keep = new Map<AdaLoraLayer, boolean[]>();
  readonly history: { step: number; totalRank: number }[] = [];
  private readonly layers: readonly AdaLoraLayer[];

  constructor(
    applied: AppliedAdaLora,
    private readonly opts: MagnitudePruneOptions,
  ) {
        this.layers = applied.layers.filter((l) => l.r > 0);
  }

  activeRanks(): Record<string, number> {
    return ranksOf(this.layers, this.keep);
  }

  rankDistribution(): Record<number, number> {
    return rankDistribution(this.activeRanks());
  }

  rankPattern(): Record<string, boolean[]> {
    return Object.fromEntries(this.layers.map((l) => [l.paramName('lora_E'), this.keep.get(l) ?? Array<boolean>(l.r).fill(true)]));
  }

  async afterStep(ctx: AfterStepContext): Promise<void> {
    const start = this.opts.start ?? 0;
    const every = this.opts.every ?? 1;
    if (ctx.step >= start && (ctx.step - start) % every === 0) {
      const values = await ctx.executable.getParameters(this.layers.map((l) => l.paramName('lora_E')));
      for (const l of this.layers) {
        const e = values[l.paramName('lora_E')].data;
        const prev = this.keep.get(l) ?? Array<boolean>(l.r).fill(true);
        const next = prev.map((k, i) => k && Math.abs(Number(e[i])) >= this.opts.threshold);
        // Keep the largest singular values when the threshold would leave fewer than minRank.
        const minRank = Math.min(this.opts.minRank ?? 1, l.r);
        if (next.filter(Boolean).length < minRank) {
          const order = [...e].map((v, i) => [Math.abs(Number(v)), i] as const).filter(([, i]) => prev[i]).sort((a, b) => b[0] - a[0]);
          for (const [, i] of order.slice(0, minRank)) next[i] = true;
        }
        this.keep.set(l, next);
      }
    }
    if (this.keep.size) await maskSingularValues(ctx.executable, this.layers, this.keep);
    this.history.push({ step: ctx.step, totalRank: Object.values(this.activeRanks()).reduce((a, b) => a + b, 0) });
  }

  state(): JsonValue {
    return Object.fromEntries([...this.keep].map(([l, k]) => [l.path, k]));
  }

  restore(s: JsonValue): void {
    const o = s as Record<string, boolean[]>;
    this.keep.clear();
    for (const l of this.layers) if (o[l.path]) this.keep.set(l, [...o[l.path]]);
  }
}

