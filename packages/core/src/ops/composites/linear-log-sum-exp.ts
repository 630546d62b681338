import { isHalfFloat } from '../../dtype.js';
import type { Tensor } from '../../graph/tensor.js';
import { add, cast, div, exp, log, mul, sub, tanh } from '../elementwise.js';
import { matmul } from '../matmul.js';
import { max, sum } from '../reduce.js';
import { defineOp, dtypeRule, emit, shapeRule, type ValueInfo } from '../registry.js';
import { concat, reshape, sliceAxis, transpose } from '../shape-ops.js';

/** chunk: hidden rows (tokens) per block; softcap: c in c·tanh(z / c) applied to each logit, 0 for none. */
export type LinearLseAttrs = { chunk: number; softcap: number };

/** Row ranges [lo, hi) of `chunk` rows each (the last one shorter). */
export function rowChunks(rows: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let lo = 0; lo < rows; lo += chunk) out.push([lo, Math.min(rows, lo + chunk)]);
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

/**
 * One block's logits, transposed: [vocab, rows] = table · rowsᵀ (softcapped
 * when asked) and, with a softcap, tanh(z / c) for the VJP. The table is the
 * first operand on purpose: as the second one, a loss-only graph's ORT session
 * measured 575 MB instead of 298 MB (vocab 32,000, 19 blocks; ORT pre-packs a
 * constant second MatMul operand, likely once per node).
 */
function blockLogitsT(rows: Tensor, table: Tensor, softcap: number): { z: Tensor; t?: Tensor } {
  const raw = matmul(table, rows, { transB: true });
  if (!softcap) return { z: raw };
  const t = tanh(div(raw, softcap));
  return { z: mul(t, softcap), t };
}

/*
 * Why token blocks and not vocabulary blocks: a vocabulary block slices the
 * weight, and a slice of a frozen weight reads constants only, which ONNX
 * Runtime folds into a second copy of the table (or, gated against that, copies
 * the whole table per block). A token block slices `hidden`, a computed value,
 * and reads the table whole and in place.
 */

/**
 * log Σ_v exp(z[n, v]) of the logits z = hidden · weightᵀ (each one softcapped
 * when `softcap` > 0) without ever holding z whole: the tokens are visited
 * `chunk` rows at a time, each block's logits reduced to its log-sum-exp at
 * once. The VJP recomputes each block's logits from the output, so the backward
 * too holds one [chunk, vocab] block at a time; a weight held at 16 bits is
 * upcast once per pass and (frozen) gets no gradient work at all.
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
    const table = cast(weight, 'f32');
    const parts: Tensor[] = [];
    // Emitted block by block: schedules break ties by creation order, so blocks run one after another.
    for (const [lo, hi] of rowChunks(hidden.shape[0], a.chunk)) {
      const { z } = blockLogitsT(sliceAxis(hidden, 0, lo, hi), table, a.softcap);
      const m = max(z, [0], true);
      parts.push(add(reshape(m, [hi - lo]), log(sum(exp(sub(z, m)), [0]))));
    }
    return parts.length === 1 ? parts[0] : concat(parts, 0);
  },
  // d lse_n / d z_nv = softmax(z)_nv = exp(z_nv - lse_n); through the softcap, times 1 - tanh².
  vjp: ({ grad, inputs: [hidden, weight], output, attrs, needs }) => {
    const table = cast(weight, 'f32');
    const dHiddenT: Tensor[] = [];
    let dWeight: Tensor | null = null;
    for (const [lo, hi] of rowChunks(hidden.shape[0], attrs.chunk)) {
      const rows = sliceAxis(hidden, 0, lo, hi);
      const { z, t } = blockLogitsT(rows, table, attrs.softcap);
      const lse = reshape(sliceAxis(output, 0, lo, hi), [1, hi - lo]);
      let dz = mul(exp(sub(z, lse)), reshape(sliceAxis(grad, 0, lo, hi), [1, hi - lo]));
      if (t) dz = mul(dz, sub(1, mul(t, t)));
      // dHiddenᵀ = tableᵀ · dz, the table again first (see blockLogitsT).
      if (needs[0]) dHiddenT.push(matmul(table, dz, { transA: true }));
      if (needs[1]) {
        const part = matmul(dz, rows);
        dWeight = dWeight ? add(dWeight, part) : part;
      }
    }
    const dH = dHiddenT.length === 0 ? null : transpose(dHiddenT.length === 1 ? dHiddenT[0] : concat(dHiddenT, 1), [1, 0]);
    return [dH, dWeight];
  },
  // Forward: the matmul, then about 6 flops per logit (tanh cap, max, exp, sum); the VJP does it again.
  flops: ([hidden, weight], _o, a) => {
    const logits = hidden.shape[0] * weight.shape[0];
    return logits * (2 * hidden.shape[1] + (a.softcap ? 9 : 6));
  },
});

/**
 * log-sum-exp over the vocabulary of hidden · weightᵀ, one row per token,
 * computed `chunk` tokens at a time (see the op). `weight` is the output
 * layer's [vocab, width] table, f32 or 16-bit storage.
 */
export const linearLogSumExp = (hidden: Tensor, weight: Tensor, opts: { chunk: number; softcap?: number | null }): Tensor =>
  emit('linearLogSumExp', [hidden, weight], { chunk: opts.chunk, softcap: opts.softcap ?? 0 });
