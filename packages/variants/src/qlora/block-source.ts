import { f16BitsToNumber, type HostTensor } from '@lowrank/core';
import { QuantizationError } from '../errors.js';

/**
 * Where the 4-bit quantizer reads W [out, in] from: `fill` writes elements
 * [start, start + count) of W in row-major out-in order, as f32, into a small
 * scratch. The quantizer never holds a whole-tensor f32 copy: it converts a
 * chunk at a time straight from the stored bytes.
 */
export interface BlockSource {
  readonly length: number;
  fill(scratch: Float32Array, start: number, count: number): void;
}

/** A weight as stored: 16-bit bits (bf16, f16) or f32 values. */
export type StoredWeight = Pick<HostTensor, 'dtype' | 'data'>;

let f16Values: Float32Array | undefined;

/** Every f16 bit pattern's value (each is exactly an f32): 256 KiB, built on first use. */
function f16Table(): Float32Array {
  f16Values ??= Float32Array.from({ length: 65536 }, (_, bits) => f16BitsToNumber(bits));
  return f16Values;
}

/** Elements [start, start + count) of a row-major [rows, cols] matrix's transpose, gathered from `get`. */
function fillTransposed(scratch: Float32Array, start: number, count: number, rows: number, cols: number, get: (i: number) => number): void {
  // W [out, in] element (o, i) lives at i * out + o of the stored [in, out] matrix (rows = out, cols = in here).
  let o = Math.floor(start / cols);
  let i = start - o * cols;
  for (let k = 0; k < count; k++) {
    scratch[k] = get(i * rows + o);
    if (++i === cols) {
      i = 0;
      o++;
    }
  }
}

/**
 * A source over stored weight bytes. `transposed`: the stored matrix is
 * [inFeatures, outFeatures] (a fan-in-fan-out weight, GPT-2's Conv1D) and is
 * read as its transpose.
 */
export function storedWeightSource(t: StoredWeight, outFeatures: number, inFeatures: number, transposed = false): BlockSource {
  const length = outFeatures * inFeatures;
  if (t.data.length !== length) {
    throw new QuantizationError(`the stored weight has ${t.data.length} values, a [${outFeatures}, ${inFeatures}] weight needs ${length}; pass the tensor that belongs to this layer`);
  }
  if (t.dtype === 'bf16' || t.dtype === 'f16') {
    const bits = t.data as Uint16Array;
    if (transposed) {
      const f16 = t.dtype === 'f16' ? f16Table() : undefined;
      const word = new Uint32Array(1);
      const asFloat = new Float32Array(word.buffer);
      const get = f16 ? (k: number) => f16[bits[k]] : (k: number) => ((word[0] = bits[k] << 16), asFloat[0]);
      return { length, fill: (scratch, start, count) => fillTransposed(scratch, start, count, outFeatures, inFeatures, get) };
    }
    if (t.dtype === 'f16') {
      const table = f16Table();
      return {
        length,
        fill(scratch, start, count) {
          for (let k = 0; k < count; k++) scratch[k] = table[bits[start + k]];
        },
      };
    }
    return {
      length,
      fill(scratch, start, count) {
        // bf16 is the top half of an f32: widen the bits in place of a float conversion.
        const words = new Uint32Array(scratch.buffer, scratch.byteOffset, count);
        for (let k = 0; k < count; k++) words[k] = bits[start + k] << 16;
      },
    };
  }
  if (t.dtype !== 'f32') throw new QuantizationError(`cannot quantize a ${t.dtype} weight; pass float weights (f32, bf16 or f16)`);
  return valuesSource(t.data, outFeatures, inFeatures, transposed);
}

/** A source over values in memory (f32 or float64; each is rounded to f32, as the quantizer always did). */
export function valuesSource(values: ArrayLike<number>, outFeatures: number, inFeatures: number, transposed = false): BlockSource {
  const length = outFeatures * inFeatures;
  if (transposed) return { length, fill: (scratch, start, count) => fillTransposed(scratch, start, count, outFeatures, inFeatures, (k) => values[k]) };
  if (values instanceof Float32Array) return { length, fill: (scratch, start, count) => scratch.set(values.subarray(start, start + count)) };
  return {
    length,
    fill(scratch, start, count) {
      for (let k = 0; k < count; k++) scratch[k] = values[start + k];
    },
  };
}
