import type { Tensor } from '../../graph/tensor.js';
import { GraphError } from '../../errors.js';
import { cast, div, gather, linearLogSumExp, maximum, mul, notEqual, sub, sum, tanh, where } from '../emit.js';

export interface LinearCrossEntropyOptions {
  /** Tokens per block of the log-sum-exp (the largest logits block ever held is [chunk, vocab]). */
  readonly chunk: number;
  /** c in c·tanh(z / c) on every logit (Gemma 2's final_logit_softcapping); null or 0 for none. */
  readonly softcap?: number | null;
  readonly ignoreIndex?: number;
}

/**
 * Mean token cross-entropy of the logits hidden · weightᵀ (softcapped when
 * asked) against i32 labels, skipping labels equal to ignoreIndex, without
 * the [tokens, vocab] logits: lse(z_n) − z_n[label] where the log-sum-exp is
 * computed in blocks of tokens and the label logit is the dot product of the
 * token's hidden state with its label's weight row. Equal to
 * `crossEntropy(matmul(hidden, weight, { transB: true }), labels)`.
 */
export function linearCrossEntropy(hidden: Tensor, weight: Tensor, labels: Tensor, opts: LinearCrossEntropyOptions): Tensor {
  if (labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== hidden.shape[0]) {
    throw new GraphError(`linearCrossEntropy: labels must be i32 [${hidden.shape[0]}] (one per hidden row), got ${labels}`);
  }
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const softcap = opts.softcap ?? 0;
  const lse = linearLogSumExp(hidden, weight, { chunk: opts.chunk, softcap });
  const valid = notEqual(labels, ignoreIndex);
  // Ignored positions read row 0; their term is masked out below.
  const rows = cast(gather(weight, where(valid, labels, 0)), 'f32');
  let target = sum(mul(hidden, rows), [1]);
  if (softcap) target = mul(tanh(div(target, softcap)), softcap);
  const validF = cast(valid, 'f32');
  return div(sum(mul(sub(lse, target), validF)), maximum(sum(validF), 1));
}
