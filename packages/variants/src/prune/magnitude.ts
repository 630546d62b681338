import type { AfterStepContext, HostTensor, JsonValue, Module, StepHook } from '@lowrank/core';
import type { AppliedAdaLora } from '../adalora/apply.js';
import type { AdaLoraLayer } from '../adalora/layer.js';
import { maskSingularValues, rankDistribution, ranksOf } from '../adalora/masking.js';
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

/**
 * The lighter rank-pruning policy: no sensitivity statistics, just the
 * magnitude of each singular value |E_i| against a threshold, applied every
 * `every` steps on AdaLoRA's SVD layers. Pruned components stay pruned.
 */
export class MagnitudeRankPruner implements StepHook {
  readonly name = 'magnitude-prune';
  private readonly keep = new Map<AdaLoraLayer, boolean[]>();
  readonly history: { step: number; totalRank: number }[] = [];
  private readonly layers: readonly AdaLoraLayer[];

  constructor(
    applied: AppliedAdaLora,
    private readonly opts: MagnitudePruneOptions,
  ) {
    if (!(opts.threshold >= 0)) throw new AdapterConfigError('threshold', `must be >= 0, got ${opts.threshold}`);
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
