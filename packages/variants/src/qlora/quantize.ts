import { ops } from '@lowrank/core';
import { QuantizationError } from '../errors.js';

export type Codebook = 'nf4' | 'fp4';

/** The absmax constants of a 4-bit weight stored in 8 bits (QLoRA's double quantization). */
export interface NestedAbsmax {
  /** u8 codes into the dynamic map, one per 4-bit block. */
  readonly codes: Uint8Array;
  /** f32 scale per `blockSize` codes. */
  readonly scale: Float32Array;
  /** The mean of the absmax values, subtracted before quantizing. */
  readonly offset: number;
  readonly blockSize: number;
}

/** A weight W [N, K] in bitsandbytes' 4-bit layout. */
export interface Quantized4bit {
  readonly shape: readonly [number, number];
  readonly codebook: Codebook;
  readonly blockSize: number;
  /** Two codes per byte, even element in the high nibble, row-major over W. */
  readonly codes: Uint8Array;
  /** f32 absmax per block (absent when double-quantized). */
  readonly absmax?: Float32Array;
  readonly nested?: NestedAbsmax;
}

export interface Quantize4bitOptions {
  codebook?: Codebook;
  blockSize?: number;
  doubleQuant?: boolean;
  /** Block size of the double quantization (bitsandbytes: 256). */
  nestedBlockSize?: number;
}

/** Sorted code values and the midpoints between neighbours: a value above a midpoint takes the upper code. */
interface NearestTable {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  readonly mids: Float64Array;
}

function nearestTable(values: readonly number[], indices: readonly number[]): NearestTable {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const sorted = Float64Array.from(order, (i) => Math.fround(values[i]));
  return {
    values: sorted,
    indices: Int32Array.from(order, (i) => indices[i]),
    mids: Float64Array.from({ length: sorted.length - 1 }, (_, i) => (sorted[i] + sorted[i + 1]) / 2),
  };
}

/** Index of the table entry nearest to x; a value exactly on a midpoint takes the lower code, as bitsandbytes. */
function nearest(t: NearestTable, x: number): number {
  let lo = 0;
  let hi = t.mids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x > t.mids[m]) lo = m + 1;
    else hi = m;
  }
  return t.indices[lo];
}

const NF4_TABLE = nearestTable(ops.NF4_CODEBOOK, ops.NF4_CODEBOOK.map((_, i) => i));
// FP4 codes are sign + 3-bit magnitude: quantize |x| against codes 0..7, then set the sign bit.
const FP4_MAGNITUDES = nearestTable(ops.FP4_CODEBOOK.slice(0, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
const DYNAMIC_TABLE = nearestTable(Array.from(ops.DYNAMIC_MAP_8BIT), Array.from({ length: 256 }, (_, i) => i));

/** The 4-bit code of a value already divided by its block's absmax (in [-1, 1]). */
export function encode4bit(normalized: number, codebook: Codebook): number {
  if (codebook === 'nf4') return nearest(NF4_TABLE, normalized);
  const magnitude = nearest(FP4_MAGNITUDES, Math.abs(normalized));
  return normalized < 0 ? magnitude | 8 : magnitude;
}

function blockAbsmax(values: ArrayLike<number>, blockSize: number): Float32Array {
  const blocks = Math.ceil(values.length / blockSize);
  const out = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let m = 0;
    for (let i = b * blockSize; i < Math.min(values.length, (b + 1) * blockSize); i++) m = Math.max(m, Math.abs(values[i]));
    out[b] = m;
  }
  return out;
}

/** bitsandbytes' blockwise 8-bit quantization with the signed dynamic map. */
export function quantizeBlockwise8(values: ArrayLike<number>, blockSize = 256): { codes: Uint8Array; scale: Float32Array } {
  const scale = blockAbsmax(values, blockSize);
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const s = scale[Math.floor(i / blockSize)];
    codes[i] = s === 0 ? DYNAMIC_TABLE.indices[DYNAMIC_TABLE.values.indexOf(0)] : nearest(DYNAMIC_TABLE, values[i] / s);
  }
  return { codes, scale };
}

/** absmax values of a double-quantized weight, computed as the graph's dequantizeDynamic8 does. */
export function dequantizeNested(n: NestedAbsmax): Float64Array {
  return Float64Array.from(n.codes, (c, i) => ops.DYNAMIC_MAP_8BIT[c] * n.scale[Math.floor(i / n.blockSize)] + n.offset);
}

/**
 * Quantizes W [N, K] (row-major) to 4 bits in blocks of `blockSize` consecutive
 * elements: each block keeps its absmax, each element the nearest code of
 * w / absmax. With doubleQuant the absmax constants are themselves stored in
 * 8 bits (minus their mean, blocks of 256), as QLoRA does.
 */
export function quantize4bit(w: ArrayLike<number>, shape: readonly [number, number], opts: Quantize4bitOptions = {}): Quantized4bit {
  const codebook = opts.codebook ?? 'nf4';
  const blockSize = opts.blockSize ?? 64;
  const n = shape[0] * shape[1];
  if (w.length !== n) throw new QuantizationError(`weight has ${w.length} values, shape [${shape.join(', ')}] needs ${n}`);
  if (n % blockSize !== 0 || n % 2 !== 0) {
    throw new QuantizationError(`a [${shape.join(', ')}] weight (${n} values) is not a whole number of ${blockSize}-value blocks; pick a block size that divides it`);
  }
  const absmax = blockAbsmax(w, blockSize);
  let nested: NestedAbsmax | undefined;
  if (opts.doubleQuant) {
    // As bitsandbytes: the 4-bit codes use the exact absmax; only its stored form is 8-bit.
    let mean = 0;
    for (const a of absmax) mean += a;
    const offset = Math.fround(mean / absmax.length);
    const nestedBlockSize = opts.nestedBlockSize ?? 256;
    const q = quantizeBlockwise8(Float64Array.from(absmax, (a) => Math.fround(a - offset)), nestedBlockSize);
    nested = { codes: q.codes, scale: q.scale, offset, blockSize: nestedBlockSize };
  }
  const codes = new Uint8Array(n / 2);
  for (let i = 0; i < n; i++) {
    const s = absmax[Math.floor(i / blockSize)];
    const code = s === 0 ? encode4bit(0, codebook) : encode4bit(Math.fround(w[i]) / s, codebook);
    codes[i >> 1] |= i % 2 === 0 ? code << 4 : code;
  }
  return { shape: [shape[0], shape[1]], codebook, blockSize, codes, ...(nested ? { nested } : { absmax }) };
}

/** W as the graph's nf4Dequantize computes it (float64 of the float32 factors). */
export function dequantize4bit(q: Quantized4bit): Float64Array {
  const table = q.codebook === 'nf4' ? ops.NF4_CODEBOOK : ops.FP4_CODEBOOK;
  const absmax = q.nested ? dequantizeNested(q.nested) : q.absmax!;
  const n = q.shape[0] * q.shape[1];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const byte = q.codes[i >> 1];
    const code = i % 2 === 0 ? byte >> 4 : byte & 0x0f;
    out[i] = Math.fround(table[code]) * absmax[Math.floor(i / q.blockSize)];
  }
  return out;
}

/** Bytes of every buffer a quantized weight keeps (codes, absmax or its 8-bit form, nested scales and offset). */
export function quantizedBytes(q: Quantized4bit): number {
  const absmaxBytes = q.nested ? q.nested.codes.length + 4 * q.nested.scale.length + 4 : 4 * q.absmax!.length;
  return q.codes.length + absmaxBytes;
}
