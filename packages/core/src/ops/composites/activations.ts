import { add, erf, mul, pow, sigmoid, tanh } from '../emit.js';
import { defineOp, dtypeRule } from '../registry.js';

type GeluAttrs = { approximate: string };

/** GELU: exact (erf) form, or the tanh approximation GPT-2 uses ("gelu_new"). */
defineOp<GeluAttrs>({
  name: 'gelu',
  kind: 'composite',
  expand: ([x], a) => {
    if (x.dtype !== 'f32') dtypeRule(`gelu needs f32, got ${x.dtype}`);
    if (a.approximate === 'tanh') {
      const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return mul(mul(x, 0.5), add(tanh(inner), 1));
    }
    return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
  },
});

/** SiLU (swish): x·sigmoid(x), LLaMA's MLP activation. */
defineOp({
  name: 'silu',
  kind: 'composite',
  expand: ([x]) => mul(x, sigmoid(x)),
});

export { gelu, silu } from '../emit.js';
