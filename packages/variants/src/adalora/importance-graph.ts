import { ops, type StepGraphContext, type Tensor } from '@lowrank/core';
import type { AdaLoraLayer } from './layer.js';

/** |x| from ops every backend has (no abs primitive): max(x, −x) is exact. */
export const absOf = (x: Tensor): Tensor => ops.maximum(x, ops.neg(x));

/** Bool [n]: entry i is true when at least `drop` entries of `scores` [n] are strictly smaller. */
export function survivesDrop(scores: Tensor, drop: Tensor): Tensor {
  const n = scores.shape[0];
  // smaller[i, j] = scores[j] < scores[i]; the count of smaller scores is i's ascending rank (ties share the lowest).
  const smaller = ops.less(ops.reshape(scores, [1, n]), ops.reshape(scores, [n, 1]));
  return ops.greaterEqual(ops.sum(ops.cast(smaller, 'f32'), [1]), drop);
}

/**
 * PEFT's RankAllocator statistics for one AdaLoRA parameter, in the step graph:
 * sensitivity s = |p·∇p| with p the parameter after this step's update (PEFT
 * multiplies the updated weight by the gradient it was updated with), its
 * average ipt ← β1·ipt + (1−β1)·s and the uncertainty unc ← β2·unc + (1−β2)·|s − ipt|.
 * Returns the per-entry score ipt·unc after the (gated) update.
 */
export function smoothedScore(ctx: StepGraphContext, name: string, update: Tensor, beta1: number, beta2: number): Tensor {
  const p = ctx.newValue(name);
  const s = absOf(ops.mul(p, ctx.gradient(name)));
  const ipt = ctx.state(`adalora.ipt.${name}`, p.shape, 0);
  const unc = ctx.state(`adalora.unc.${name}`, p.shape, 0);
  const nextIpt = ops.add(ops.mul(ipt, beta1), ops.mul(s, 1 - beta1));
  const nextUnc = ops.add(ops.mul(unc, beta2), ops.mul(absOf(ops.sub(s, nextIpt)), 1 - beta2));
  const keptIpt = ops.where(update, nextIpt, ipt);
  const keptUnc = ops.where(update, nextUnc, unc);
  ctx.setState(`adalora.ipt.${name}`, keptIpt);
  ctx.setState(`adalora.unc.${name}`, keptUnc);
  return ops.mul(keptIpt, keptUnc);
}

/** Score of each singular triplet of a layer [r]: s(E_i) + mean_j s(A_ij) + mean_o s(B_oi). */
export function tripletScores(layer: AdaLoraLayer, a: Tensor, b: Tensor, e: Tensor): Tensor {
  const r = layer.r;
  const fromA = ops.div(ops.sum(a, [1]), layer.inFeatures);
  const fromB = ops.div(ops.sum(b, [0]), layer.outFeatures);
  return ops.add(ops.add(ops.reshape(e, [r]), fromA), fromB);
}
