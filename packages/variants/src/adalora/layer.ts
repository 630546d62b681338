import { Module, ops, type Tensor } from '@lowrank/core';
import { baseForward, baseParams, type BaseLayerSpec, type ParamLookup } from '../base-layer.js';

/**
 * AdaLoRA's SVD-form adapter on a linear layer (PEFT's SVDLinear):
 * y = W·x + B·((A ⊙ E)·x) · lora_alpha / (ranknum + 1e-5), with P = B [out, r],
 * Λ = E [r, 1] (the trainable singular values) and Q = A [r, in]. `ranknum`
 * is the rank the adapter was created with; it stays when ranks are pruned,
 * so a pruned adapter gives the same outputs. Parameters are named as PEFT saves
 * them: `<module>.lora_A`, `lora_B`, `lora_E`.
 */
export class AdaLoraLayer extends Module {
  training = true;

  constructor(
    readonly baseSpec: BaseLayerSpec,
    /** Current rank (rows of A). */
    readonly r: number,
    /** Rank at creation (PEFT's ranknum). */
    readonly ranknum: number,
    readonly alpha: number,
    readonly dropout: number,
  ) {
    super();
    for (const p of baseParams(baseSpec)) this.addParam(p.name, p.shape, { dtype: p.dtype, trainable: false });
    if (r > 0) {
      this.addParam('lora_A', [r, baseSpec.inFeatures], { trainable: true });
      this.addParam('lora_B', [baseSpec.outFeatures, r], { trainable: true });
      this.addParam('lora_E', [r, 1], { trainable: true });
    }
  }

  get inFeatures(): number {
    return this.baseSpec.inFeatures;
  }

  get outFeatures(): number {
    return this.baseSpec.outFeatures;
  }

  /** ΔW's factor: lora_alpha / (ranknum + 1e-5), as PEFT computes it. */
  get scaling(): number {
    return this.alpha / (this.ranknum + 1e-5);
  }

  paramName(kind: 'lora_A' | 'lora_B' | 'lora_E'): string {
    return this.path ? `${this.path}.${kind}` : kind;
  }

  forward(x: Tensor): Tensor {
    const p: ParamLookup = (n) => this.p(x.graph, n);
    const result = baseForward(this.baseSpec, p, x);
    if (this.r === 0) return result;
    const xd = ops.dropout(x, this.training ? this.dropout : 0);
    const AE = ops.mul(p('lora_A'), p('lora_E'));
    const delta = ops.matmul(ops.matmul(xd, AE, { transB: true }), p('lora_B'), { transB: true });
    return ops.add(result, ops.mul(delta, this.scaling));
  }
}
