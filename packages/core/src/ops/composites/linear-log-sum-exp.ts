import { isHalfFloat } from '../../dtype.js';
import type { Tensor } from '../../graph/tensor.js';
import { add, cast, div, exp, log, maximum, mul, sub, tanh } from '../elementwise.js';
import { matmul } from '../matmul.js';
import { max, sum } from '../reduce.js';
import { defineOp, dtypeRule, emit, shapeRule, type ValueInfo } from '../registry.js';
import { concat, expandDims, sliceAxis } from '../shape-ops.js';

/** chunk: vocabulary rows per step; softcap: c in c·tanh(z / c) applied to each logit, 0 for none. */
export type LinearLseAttrs = { chunk: number; softcap: number };

/** Vocabulary ranges [lo, hi) of `chunk` rows each (the last one shorter). */
export function vocabChunks(vocab: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let lo = 0; lo < vocab; lo += chunk) out.push([lo, Math.min(vocab, lo + chunk)]);
  return out;
}

function check([hidden, weight]: readonly ValueInfo[], a: LinearLseAttrs): void {
  if (hidden.dtype !== 'f32') dtypeRule(`hidden must be f32, got ${hidden.dtype}`);
  if (weight.dtype !== 'f32' && !isHalfFloat(weight.dtype)) dtypeRule(`weight must be f32, bf16 or f16, got ${weight.dtype}`);
  if (hidden.shape.length !== 2 || weight.shape.length !== 2) shapeRule('hidden must be [tokens, width] and weight [vocab, width]');
  if (hidden.shape[1] !== weight.shape[1]) shapeRule(`hidden width ${hidden.shape[1]} differs from weight width ${weight.shape[1]}`);
  if (!Number.isInteger(a.chunk) || a.chunk < 1) shapeRule(`chunk must be a positive integer, got ${a.chunk}`);
  if (!(a.softcap >= 0)) shapeRule(`softcap must be 0 (none) or positive, got ${a.softcap}`);
}

/** One chunk's logits [N, hi - lo] (softcapped when asked) and, with a softcap, tanh(z / c) for the VJP. */
function chunkLogits(hidden: Tensor, weight: Tensor, lo: number, hi: number, softcap: number): { z: Tensor; w: Tensor; t?: Tensor } {
  // The slice is taken before the upcast: a 16-bit table is widened one chunk at a time.
  const w = cast(sliceAxis(weight, 0, lo, hi), 'f32');
  const raw = matmul(hidden, w, { transB: true });
  if (!softcap) return { z: raw, w };
  const t = tanh(div(raw, softcap));
  return { z: mul(t, softcap), w, t };
}

/**
 * log Σ_v exp(z[n, v]) of the logits z = hidden · weightᵀ (each one softcapped
 * when `softcap` > 0) without ever holding z whole: the vocabulary is visited
 * `chunk` rows at a time with a running max and a running sum of exponentials
 * (the online log-sum-exp). The VJP recomputes each chunk's logits from the
 * output, so the backward too holds one [N, chunk] block at a time; a weight
 * held at 16 bits (frozen) gets no gradient work at all.
 */
defineOp<LinearLseAttrs>({
  name: 'linearLogSumExp',
  kind: 'composite',
  infer: (inputs, a) => {
    check(inputs, a);
    return { shape: [inputs[0].shape[0]], dtype: 'f32' };
  },
  expand: ([hidden, weight], a) => {
    check([hidden, weight], a);
    let m: Tensor | undefined;
    let s: Tensor | undefined;
    // Emitted chunk by chunk: schedules break ties by creation order, so chunks run one after another.
    for (const [lo, hi] of vocabChunks(weight.shape[0], a.chunk)) {
      const { z } = chunkLogits(hidden, weight, lo, hi, a.softcap);
      const mc = max(z, [1]);
      const next = m ? maximum(m, mc) : mc;
      const part = sum(exp(sub(z, expandDims(next, 1))), [1]);
      s = s && m ? add(mul(s, exp(sub(m, next))), part) : part;
      m = next;
    }
    return add(m!, log(s!));
  },
  // d lse_n / d z_nv = softmax(z)_nv = exp(z_nv - lse_n); through the softcap, times 1 - tanh².
  vjp: ({ grad, inputs: [hidden, weight], output, attrs, needs }) => {
    let dHidden: Tensor | null = null;
    const dWeight: Tensor[] = [];
    const lse = expandDims(output, 1);
    const g = expandDims(grad, 1);
    for (const [lo, hi] of vocabChunks(weight.shape[0], attrs.chunk)) {
      const { z, w, t } = chunkLogits(hidden, weight, lo, hi, attrs.softcap);
      let dz = mul(exp(sub(z, lse)), g);
      if (t) dz = mul(dz, sub(1, mul(t, t)));
      if (needs[0]) {
        const part = matmul(dz, w);
        dHidden = dHidden ? add(dHidden, part) : part;
      }
      if (needs[1]) dWeight.push(matmul(dz, hidden, { transA: true }));
    }
    const dW = dWeight.length === 0 ? null : dWeight.length === 1 ? dWeight[0] : concat(dWeight, 0);
    return [dHidden, dW];
  },
  // Forward: the matmul, then about 6 flops per logit (tanh cap, max, exp, sum); the VJP does it again.
  flops: ([hidden, weight], _o, a) => {
    const logits = hidden.shape[0] * weight.shape[0];
    return logits * (2 * hidden.shape[1] + (a.softcap ? 9 : 6));
  },
});

/**
 * log-sum-exp over the vocabulary of hidden · weightᵀ, one row per token,
 * computed `chunk` vocabulary rows at a time (see the op). `weight` is the
 * output layer's [vocab, width] table, f32 or 16-bit storage.
 */
export const linearLogSumExp = (hidden: Tensor, weight: Tensor, opts: { chunk: number; softcap?: number | null }): Tensor =>
  emit('linearLogSumExp', [hidden, weight], { chunk: opts.chunk, softcap: opts.softcap ?? 0 });
