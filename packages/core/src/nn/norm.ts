import type { Tensor } from '../graph/tensor.js';
import { layerNorm, rmsNorm } from '../ops/index.js';
import { Module } from './module.js';

/** torch.nn.LayerNorm over the last axis, with weight and bias. */
export class LayerNorm extends Module {
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.addParam('weight', [dim]);
    this.addParam('bias', [dim]);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.p(x.graph, 'weight'), this.p(x.graph, 'bias'), this.eps);
  }
}

/** Hugging Face LlamaRMSNorm. */
export class RMSNorm extends Module {
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.addParam('weight', [dim]);
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.p(x.graph, 'weight'), this.eps);
  }
}
