import type { Tensor } from '../../graph/tensor.js';
import { add, mean, mul, rsqrt, sub } from '../emit.js';
import { defineOp, shapeRule } from '../registry.js';

type EpsAttrs = { eps: number };

function checkLastAxis(x: Tensor, w: Tensor, what: string): void {
  if (w.rank !== 1 || w.shape[0] !== x.shape[x.rank - 1]) {
    shapeRule(`${what} must have shape [${x.shape[x.rank - 1]}] (the last axis of x), got [${w.shape.join(', ')}]`);
  }
}

/** Layer norm over the last axis with biased variance, as torch.nn.LayerNorm. */
defineOp<EpsAttrs>({
  name: 'layerNorm',
  kind: 'composite',
  expand: ([x, gamma, beta], a) => {
    checkLastAxis(x, gamma, 'weight');
    checkLastAxis(x, beta, 'bias');
    const mu = mean(x, [-1], true);
    const centered = sub(x, mu);
    const variance = mean(mul(centered, centered), [-1], true);
    return add(mul(mul(centered, rsqrt(add(variance, a.eps))), gamma), beta);
  },
});

/** RMS norm as Hugging Face LlamaRMSNorm: x·rsqrt(mean(x²) + eps)·weight. */
defineOp<EpsAttrs>({
  name: 'rmsNorm',
  kind: 'composite',
  expand: ([x, weight], a) => {
    checkLastAxis(x, weight, 'weight');
    const ms = mean(mul(x, x), [-1], true);
    return mul(mul(x, rsqrt(add(ms, a.eps))), weight);
  },
});

export { layerNorm, rmsNorm } from '../emit.js';
