import { ops } from '@lowrank/core';
import { QuantizationError } from '../errors.js';
import type { BlockSource } from './block-source.js';
import { nearestCode, nearestCodeTable, type NearestCodeTable } from './nearest-code.js';

export type Codebook = 'nf4' | 'fp4';

export const NF4_CODES = nearestCodeTable(ops.NF4_CODEBOOK, ops.NF4_CODEBOOK.map((_, i) => i));
if (NF4_CODES.codes.some((c, pos) => c !== pos) || NF4_CODES.gridStart !== -1 || NF4_CODES.mids.length !== 16) {
  throw new QuantizationError('core\'s NF4_CODEBOOK is no longer sorted from -1 to 1; encodeNf4 relies on that order: update it with the codebook');
}
// FP4 codes are sign + 3-bit magnitude: |x| is matched against codes 0..7, then the sign bit set.
export const FP4_MAGNITUDE_CODES = nearestCodeTable(ops.FP4_CODEBOOK.slice(0, 8), [0, 1, 2, 3, 4, 5, 6, 7]);

/** The codes and f32 absmax of a weight quantized in blocks. */
export interface BlockCodes {
  /** Two codes per byte, even element in the high nibble. */
  readonly codes: Uint8Array;
  readonly absmax: Float32Array;
}

// Elements converted per chunk: 32 KiB of f32 scratch (stays in L1/L2), whole blocks.
const CHUNK_TARGET = 8192;

/** Max |v| of a block, NaN if any element is NaN (Math.max semantics, as the absmax always had). */
function blockMax(v: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let k = from; k < to; k++) m = Math.max(m, Math.abs(v[k]));
  return m;
}

/**
 * Codes of v[from, to) divided by s, element k's pair packed into
 * out[byte0 + k / 2] (from and to even). nearestCode, inlined: this loop is the quantizer's cost.
 */
function encodeNf4(v: Float32Array, from: number, to: number, s: number, t: NearestCodeTable, out: Uint8Array, byte0: number): void {
  const { mids, lowerBound, gridStart, cellsPerUnit } = t;
  // s is the block's max |v|, so v / s is in [-1, 1] (the table's range) or NaN: `| 0` lands in the grid (NaN in cell 0),
  // and NF4's sorted positions are its codes (checked where the table is made).
  for (let k = from; k < to; k += 2) {
    const x0 = v[k] / s;
    let p0 = lowerBound[((x0 - gridStart) * cellsPerUnit) | 0];
    while (x0 > mids[p0]) p0++;
    const x1 = v[k + 1] / s;
    let p1 = lowerBound[((x1 - gridStart) * cellsPerUnit) | 0];
    while (x1 > mids[p1]) p1++;
    out[byte0 + (k >> 1)] = (p0 << 4) | p1;
  }
}

/** FP4: the magnitude's code, plus the sign bit for a negative value (not for -0). */
function fp4Code(x: number, t: NearestCodeTable): number {
  const a = Math.abs(x);
  const u = (a - t.gridStart) * t.cellsPerUnit;
  let pos = t.lowerBound[u >= t.cells ? t.cells : u > 0 ? u | 0 : 0];
  while (a > t.mids[pos]) pos++;
  // The sign bit without a branch (signs are a coin toss): -0 and NaN are not below 0.
  return t.codes[pos] | (Number(x < 0) << 3);
}

function encodeFp4(v: Float32Array, from: number, to: number, s: number, t: NearestCodeTable, out: Uint8Array, byte0: number): void {
  for (let k = from; k < to; k += 2) out[byte0 + (k >> 1)] = (fp4Code(v[k] / s, t) << 4) | fp4Code(v[k + 1] / s, t);
}

/** An odd-sized block (its pairs straddle blocks): one nibble at a time, by the element's global parity. */
function encodeOddBlock(v: Float32Array, from: number, to: number, s: number, codebook: Codebook, out: Uint8Array, first: number): void {
  for (let k = from, g = first; k < to; k++, g++) {
    const x = v[k] / s;
    const code = s === 0 ? (codebook === 'nf4' ? nearestCode(NF4_CODES, 0) : 0) : codebook === 'nf4' ? nearestCode(NF4_CODES, x) : fp4Code(x, FP4_MAGNITUDE_CODES);
    if ((g & 1) === 0) out[g >> 1] = code << 4;
    else out[g >> 1] |= code;
  }
}

/**
 * Quantizes `source` (length n, a whole number of blocks, n even) to 4-bit
 * codes in blocks of `blockSize`: each block keeps its absmax, each element
 * the nearest code of w / absmax (a block of zeros takes the code of 0). The
 * result is bit-identical to the elementwise definition (see
 * quantize-reference.ts), including ties (lower code), NaN (absmax NaN, code
 * of the lowest value) and ±Infinity.
 */
export function quantizeBlocks(source: BlockSource, blockSize: number, codebook: Codebook): BlockCodes {
  const n = source.length;
  const chunk = Math.max(1, Math.round(CHUNK_TARGET / blockSize)) * blockSize;
  const scratch = new Float32Array(chunk);
  const codes = new Uint8Array(n / 2);
  const absmax = new Float32Array(n / blockSize);
  const table = codebook === 'nf4' ? NF4_CODES : FP4_MAGNITUDE_CODES;
  const encode = codebook === 'nf4' ? encodeNf4 : encodeFp4;
  const zeroCode = nearestCode(table, 0);
  const zeroPair = (zeroCode << 4) | zeroCode;
  const even = blockSize % 2 === 0;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    source.fill(scratch, start, count);
    for (let from = 0, b = start / blockSize; from < count; from += blockSize, b++) {
      const to = from + blockSize;
      const s = blockMax(scratch, from, to);
      absmax[b] = s;
      if (!even) encodeOddBlock(scratch, from, to, s, codebook, codes, start + from);
      else if (s === 0) codes.fill(zeroPair, (start + from) >> 1, (start + to) >> 1);
      // Even blocks start at even elements: element start + k is in byte (start >> 1) + (k >> 1).
      else encode(scratch, from, to, s, table, codes, start >> 1);
    }
  }
  return { codes, absmax };
}
