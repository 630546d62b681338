import type { Tensor } from '../graph/tensor.js';
import { add, cast, matmul } from '../ops/index.js';
import { Module } from './module.js';

export interface LinearOptions {
  bias?: boolean;
  /** GPT-2's Conv1D stores the weight as [in, out]; the name stays `weight`. */
  fanInFanOut?: boolean;
}

/** y = x·Wᵀ + b with W [out, in] as torch.nn.Linear (or [in, out] when fanInFanOut). */
export class Linear extends Module {
  readonly hasBias: boolean;
  readonly fanInFanOut: boolean;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    this.hasBias = opts.bias ?? true;
    this.fanInFanOut = opts.fanInFanOut ?? false;
    this.addParam('weight', this.fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures]);
    if (this.hasBias) this.addParam('bias', [outFeatures]);
  }

  /**
   * The weight tensor in the graph, in its stored layout, as f32: a weight
   * held at a 16-bit storage dtype is upcast here, right before its use.
   */
  weight(x: Tensor): Tensor {
    const w = this.p(x.graph, 'weight');
    return w.dtype === 'f32' ? w : cast(w, 'f32');
  }

  bias(x: Tensor): Tensor | null {
    return this.hasBias ? this.p(x.graph, 'bias') : null;
  }

  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight(x), { transB: !this.fanInFanOut });
    const b = this.bias(x);
    return b ? add(y, b) : y;
  }
}
