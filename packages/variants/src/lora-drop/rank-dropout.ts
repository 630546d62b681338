import { ops, type Module, type Tensor } from '@lowrank/core';
import { loraLayers } from '../apply.js';
import { AdapterConfigError } from '../errors.js';

/**
 * Rank dropout: while training, each example drops each of the r components of
 * x·Aᵀ with probability p (one Bernoulli draw per example and component, shared
 * over its positions) and scales the kept ones by 1/(1-p); evaluation graphs
 * (`layer.training = false`) use every component. The mask comes from core's
 * counter RNG keyed by (rng.seed, rng.step, node), so a run repeats exactly.
 */
export function applyRankDropout(model: Module, p: number, adapter = 'default'): void {
  if (!(p >= 0 && p < 1)) throw new AdapterConfigError('rank_dropout', `must be in [0, 1), got ${p}`);
  for (const layer of loraLayers(model).values()) {
    if (!layer.adapters.has(adapter)) continue;
    layer.pathOverride = (x, _a, factors, l) => {
      const { A, B } = factors();
      const h = ops.matmul(x, A, { transB: true });
      return ops.matmul(l.training ? rankDropout(h, p) : h, B, { transB: true });
    };
  }
}

/** h [..., r] times a per-example keep mask [batch, 1, ..., r] / (1-p). */
export function rankDropout(h: Tensor, p: number): Tensor {
  if (p === 0) return h;
  const shape = h.shape.map((d, i) => (i === 0 || i === h.shape.length - 1 ? d : 1));
  const u = ops.randomUniform(h.graph, shape);
  const keep = ops.div(ops.cast(ops.greaterEqual(u, p), 'f32'), 1 - p);
  return ops.mul(h, keep);
}
