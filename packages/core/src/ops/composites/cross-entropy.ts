import type { Tensor } from '../../graph/tensor.js';
import { arange, broadcastTo, cast, div, equal, exp, expandDims, logSoftmax, maximum, mul, neg, notEqual, sub, sum, where } from '../emit.js';
import { defineOp, dtypeRule, shapeRule } from '../registry.js';

type CeAttrs = { ignoreIndex: number };

/** One-hot rows of the labels (ignored labels map to row 0, masked out later) and the valid mask. */
function targets(logits: Tensor, labels: Tensor, ignoreIndex: number) {
  const vocab = logits.shape[logits.rank - 1];
  const valid = notEqual(labels, ignoreIndex);
  const safe = where(valid, labels, 0);
  const oneHot = cast(equal(expandDims(safe, -1), arange(logits.graph, 0, vocab, 1, 'i32')), 'f32');
  const validF = cast(valid, 'f32');
  const count = maximum(sum(validF), 1);
  return { oneHot, validF, count };
}

/**
 * Mean token cross-entropy of logits [..., V] against i32 labels [...], skipping
 * labels equal to ignoreIndex (-100), as torch.nn.functional.cross_entropy does.
 */
defineOp<CeAttrs>({
  name: 'crossEntropy',
  kind: 'composite',
  expand: ([logits, labels], a) => {
    if (labels.dtype !== 'i32') dtypeRule(`labels must be i32, got ${labels.dtype}`);
    if (logits.rank !== labels.rank + 1 || labels.shape.some((d, i) => d !== logits.shape[i])) {
      shapeRule('labels must have the shape of logits without its last axis');
    }
    const { oneHot, validF, count } = targets(logits, labels, a.ignoreIndex);
    const nll = neg(sum(mul(logSoftmax(logits, -1), oneHot), [-1]));
    return div(sum(mul(nll, validF)), count);
  },
  // d loss / d logits = (softmax - onehot) · valid / count: cheaper than differentiating the expansion.
  vjp: ({ grad, inputs: [logits, labels], attrs }) => {
    const { oneHot, validF, count } = targets(logits, labels, attrs.ignoreIndex);
    const p = exp(logSoftmax(logits, -1));
    const scale = div(mul(expandDims(validF, -1), grad), count);
    return [mul(sub(p, oneHot), broadcastTo(scale, [...labels.shape, 1])), null];
  },
  flops: ([logits]) => 8 * logits.shape.reduce((p, d) => p * d, 1),
});

export { crossEntropy } from '../emit.js';
