import { Module, type Tensor } from '@lowrank/core';
import { baseForward, baseParams, baseWeightOutIn, type QuantBaseSpec } from '../base-layer.js';

/**
 * A linear layer whose frozen weight is stored in 4 bits (bitsandbytes'
 * Linear4bit): the graph keeps the packed codes and dequantizes inside the
 * matmul (core's matmulNf4, which a backend may fuse).
 */
export class Linear4bit extends Module {
  constructor(readonly baseSpec: QuantBaseSpec) {
    super();
    for (const p of baseParams(baseSpec)) this.addParam(p.name, p.shape, { dtype: p.dtype });
  }

  get inFeatures(): number {
    return this.baseSpec.inFeatures;
  }

  get outFeatures(): number {
    return this.baseSpec.outFeatures;
  }

  forward(x: Tensor): Tensor {
    return baseForward(this.baseSpec, (n) => this.p(x.graph, n), x);
  }

  /** The dequantized weight [out, in] in the graph. */
  dequantizedWeight(x: Tensor): Tensor {
    return baseWeightOutIn(this.baseSpec, (n) => this.p(x.graph, n));
  }
}
