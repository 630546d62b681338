import { Module, ops, type Tensor } from '@lowrank/core';

/**
 * Gemma's RMSNorm: x·rsqrt(mean(x²) + eps)·(1 + weight). The stored weight is
 * the offset from one (zero-initialised in transformers), so a Gemma
 * checkpoint's norm weights load unchanged.
 */
export class OffsetRMSNorm extends Module {
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.addParam('weight', [dim]);
  }

  forward(x: Tensor): Tensor {
    return ops.rmsNorm(x, ops.add(this.p(x.graph, 'weight'), 1), this.eps);
  }
}
