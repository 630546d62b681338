import { ops } from '@lowrank/core';
import { QuantizationError } from '../errors.js';
import { storedWeightSource, valuesSource, type BlockSource, type StoredWeight } from './block-source.js';
import { nearestCode, nearestCodeTable } from './nearest-code.js';
import { FP4_MAGNITUDE_CODES, NF4_CODES, quantizeBlocks, type Codebook } from './quantize-blocks.js';

export type { Codebook } from './quantize-blocks.js';

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

// The 8-bit dynamic map by the same table (its codes crowd near 0, where a lookup may take a few more steps).
const DYNAMIC_CODES = nearestCodeTable(Array.from(ops.DYNAMIC_MAP_8BIT), Array.from({ length: 256 }, (_, i) => i));
const DYNAMIC_ZERO = ops.DYNAMIC_MAP_8BIT.indexOf(0);

/** The 4-bit code of a value already divided by its block's absmax (in [-1, 1]); on a midpoint the lower code. */
export function encode4bit(normalized: number, codebook: Codebook): number {
  if (codebook === 'nf4') return nearestCode(NF4_CODES, normalized);
  const magnitude = nearestCode(FP4_MAGNITUDE_CODES, Math.abs(normalized));
  return normalized < 0 ? magnitude | 8 : magnitude;
}

/** bitsandbytes' blockwise 8-bit quantization with the signed dynamic map (a block of zeros takes the code of 0). */
export function quantizeBlockwise8(values: ArrayLike<number>, blockSize = 256): { codes: Uint8Array; scale: Float32Array } {
  const n = values.length;
  const scale = new Float32Array(Math.ceil(n / blockSize));
  const codes = new Uint8Array(n);
  for (let b = 0, from = 0; from < n; b++, from += blockSize) {
    const to = Math.min(n, from + blockSize);
    let m = 0;
    for (let i = from; i < to; i++) m = Math.max(m, Math.abs(values[i]));
    scale[b] = m;
    const s = scale[b];
    if (s === 0) codes.fill(DYNAMIC_ZERO, from, to);
    else for (let i = from; i < to; i++) codes[i] = nearestCode(DYNAMIC_CODES, values[i] / s);
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
  const n = shape[0] * shape[1];
  if (w.length !== n) throw new QuantizationError(`weight has ${w.length} values, shape [${shape.join(', ')}] needs ${n}`);
  return quantizeSource(valuesSource(w, shape[0], shape[1]), shape, opts);
}

/**
 * quantize4bit straight from stored bytes (bf16, f16 or f32), converted a
 * chunk at a time: no f32 copy of the tensor. `transposed`: the stored matrix
 * is [in, out] (fan-in-fan-out) and W [out, in] = shape is its transpose.
 * Same result, bit for bit, as quantize4bit of the decoded values.
 */
export function quantize4bitStored(t: StoredWeight, shape: readonly [number, number], opts: Quantize4bitOptions = {}, transposed = false): Quantized4bit {
  return quantizeSource(storedWeightSource(t, shape[0], shape[1], transposed), shape, opts);
}

function quantizeSource(source: BlockSource, shape: readonly [number, number], opts: Quantize4bitOptions): Quantized4bit {
  const codebook = opts.codebook ?? 'nf4';
  const blockSize = opts.blockSize ?? 64;
  const n = source.length;
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new QuantizationError(`block size ${blockSize} is not a positive integer; use 64 (bitsandbytes' default)`);
  if (n % blockSize !== 0 || n % 2 !== 0) {
    throw new QuantizationError(`a [${shape.join(', ')}] weight (${n} values) is not a whole number of ${blockSize}-value blocks; pick a block size that divides it`);
  }
  const { codes, absmax } = quantizeBlocks(source, blockSize, codebook);
  const base = { shape: [shape[0], shape[1]] as [number, number], codebook, blockSize, codes };
  return opts.doubleQuant ? { ...base, nested: nestAbsmax(absmax, opts.nestedBlockSize ?? 256) } : { ...base, absmax };
}

/** Double quantization (QLoRA): absmax minus its mean, in 8 bits. The 4-bit codes keep using the exact absmax, as bitsandbytes. */
function nestAbsmax(absmax: Float32Array, nestedBlockSize: number): NestedAbsmax {
  let mean = 0;
  for (const a of absmax) mean += a;
  const offset = Math.fround(mean / absmax.length);
  const centred = new Float64Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centred[i] = Math.fround(absmax[i] - offset);
  const q = quantizeBlockwise8(centred, nestedBlockSize);
  return { codes: q.codes, scale: q.scale, offset, blockSize: nestedBlockSize };
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
