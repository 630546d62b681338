import { isHalfFloat } from '../../dtype.js';
import type { Tensor } from '../../graph/tensor.js';
import { add, cast, concat, div, exp, log, matmul, max, mul, reshape, sliceAxis, sub, sum, tanh, transpose } from '../emit.js';
import { defineOp, dtypeRule, shapeRule, type ValueInfo } from '../registry.js';

/** chunk: hidden rows (tokens) per block (a 16-bit table: as many vocabulary blocks); softcap: c in c·tanh(z / c) applied to each logit, 0 for none. */
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
 * Two ways to block, picked by the table's dtype. An f32 table is read whole
 * and in place, the tokens visited in blocks: a vocabulary block would slice
 * the weight, a copy per block. A 16-bit table has no in-place f32 read at
 * all (CPU kernels take f32), so it is visited in vocabulary blocks, each
 * slice upcast on its own: the only f32 copy ever held is one block's, where
 * token blocks would upcast the whole table (262 MB for 32,000 x 2,048) on
 * every pass. Vocabulary blocks are at least as many as the token blocks
 * would be (more when the table is large), so the logits block held is never
 * larger. Each vocabulary block reduces to its own log-sum-exp, and the blocks
 * are combined at the end, so no block's values wait for another's.
 */

/** Elements of one upcast table block at most (16 MB of f32). */
const TABLE_BLOCK_ELEMENTS = 1 << 22;

/**
 * Vocabulary row ranges for a 16-bit table: at least as many blocks as the
 * token blocks would make, and small enough that one upcast block stays
 * under TABLE_BLOCK_ELEMENTS.
 */
function vocabBlocks(vocab: number, width: number, tokens: number, chunk: number): Array<[number, number]> {
  const blocks = Math.min(vocab, Math.max(Math.ceil(tokens / chunk), Math.ceil((vocab * width) / TABLE_BLOCK_ELEMENTS)));
  return rowChunks(vocab, Math.ceil(vocab / blocks));
}

/** log Σ over axis 0 of z [k, n], as [n]. */
function logSumExpAxis0(z: Tensor, n: number): Tensor {
  const m = max(z, [0], true);
  return add(reshape(m, [n]), log(sum(exp(sub(z, m)), [0])));
}

/**
 * log Σ_v exp(z[n, v]) of the logits z = hidden · weightᵀ (each one softcapped
 * when `softcap` > 0) without ever holding z whole: the logits are made one
 * block at a time and each block is reduced to its log-sum-exp at once. The
 * VJP recomputes each block's logits from the output, so the backward too
 * holds one block at a time; a frozen weight gets no gradient work at all.
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
    const tokens = hidden.shape[0];
    const parts: Tensor[] = [];
    // Emitted block by block: schedules break ties by creation order, so blocks run one after another.
    if (weight.dtype === 'f32') {
      for (const [lo, hi] of rowChunks(tokens, a.chunk)) {
        parts.push(logSumExpAxis0(blockLogitsT(sliceAxis(hidden, 0, lo, hi), weight, a.softcap).z, hi - lo));
      }
      return parts.length === 1 ? parts[0] : concat(parts, 0);
    }
    for (const [lo, hi] of vocabBlocks(weight.shape[0], weight.shape[1], tokens, a.chunk)) {
      const block = cast(sliceAxis(weight, 0, lo, hi), 'f32');
      parts.push(reshape(logSumExpAxis0(blockLogitsT(hidden, block, a.softcap).z, tokens), [1, tokens]));
    }
    return parts.length === 1 ? reshape(parts[0], [tokens]) : logSumExpAxis0(concat(parts, 0), tokens);
  },
  // d lse_n / d z_nv = softmax(z)_nv = exp(z_nv - lse_n); through the softcap, times 1 - tanh².
  vjp: ({ grad, inputs: [hidden, weight], output, attrs, needs }) => {
    const tokens = hidden.shape[0];
    /** dz for the logits block zᵀ [rows of the table, tokens in cols] over output/grad columns [lo, hi). */
    const dzOf = (z: Tensor, t: Tensor | undefined, lo: number, hi: number): Tensor => {
      const lse = reshape(sliceAxis(output, 0, lo, hi), [1, hi - lo]);
      const dz = mul(exp(sub(z, lse)), reshape(sliceAxis(grad, 0, lo, hi), [1, hi - lo]));
      return t ? mul(dz, sub(1, mul(t, t))) : dz;
    };
    if (weight.dtype === 'f32') {
      const dHiddenT: Tensor[] = [];
      let dWeight: Tensor | null = null;
      for (const [lo, hi] of rowChunks(tokens, attrs.chunk)) {
        const rows = sliceAxis(hidden, 0, lo, hi);
        const { z, t } = blockLogitsT(rows, weight, attrs.softcap);
        const dz = dzOf(z, t, lo, hi);
        // dHiddenᵀ = tableᵀ · dz, the table again first (see blockLogitsT).
        if (needs[0]) dHiddenT.push(matmul(weight, dz, { transA: true }));
        if (needs[1]) {
          const part = matmul(dz, rows);
          dWeight = dWeight ? add(dWeight, part) : part;
        }
      }
      const dH = dHiddenT.length === 0 ? null : transpose(dHiddenT.length === 1 ? dHiddenT[0] : concat(dHiddenT, 1), [1, 0]);
      return [dH, dWeight];
    }
    let dHiddenT: Tensor | null = null;
    const dWeightBlocks: Tensor[] = [];
    for (const [lo, hi] of vocabBlocks(weight.shape[0], weight.shape[1], tokens, attrs.chunk)) {
      const block = cast(sliceAxis(weight, 0, lo, hi), 'f32');
      const { z, t } = blockLogitsT(hidden, block, attrs.softcap);
      const dz = dzOf(z, t, 0, tokens);
      // The running sum first: a depth-first executor then finishes each block before starting the next.
      if (needs[0]) dHiddenT = dHiddenT ? add(dHiddenT, matmul(block, dz, { transA: true })) : matmul(block, dz, { transA: true });
      if (needs[1]) dWeightBlocks.push(matmul(dz, hidden));
    }
    const dWeight = dWeightBlocks.length === 0 ? null : dWeightBlocks.length === 1 ? dWeightBlocks[0] : concat(dWeightBlocks, 0);
    return [dHiddenT ? transpose(dHiddenT, [1, 0]) : null, dWeight];
  },
  // Forward: the matmul, then about 6 flops per logit (tanh cap, max, exp, sum); the VJP does it again.
  flops: ([hidden, weight], _o, a) => {
    const logits = hidden.shape[0] * weight.shape[0];
    return logits * (2 * hidden.shape[1] + (a.softcap ? 9 : 6));
  },
});

export { linearLogSumExp } from '../emit.js';
