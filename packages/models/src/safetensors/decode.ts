import type { DType } from '@lowrank/core';
import { bf16BitsToFloat, f16BitsToFloat, type SafetensorsDtype } from './dtypes.js';

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

// All 65536 half values, built on first use: decoding becomes one lookup per element.
let f16Table: Float32Array | null = null;
function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToFloat(h);
  }
  return f16Table;
}

/** Float tensor as loaded: always f32 on the host. */
export interface F32Tensor {
  shape: number[];
  dtype: 'f32';
  data: Float32Array;
}

/** Any loaded tensor, integer dtypes kept as integers. */
export interface LoadedTensor {
  shape: number[];
  dtype: DType;
  data: Float32Array | Int32Array | Uint8Array;
}

/** Decodes little-endian stored bytes of a float dtype into f32. */
export function decodeFloat(bytes: Uint8Array, dtype: SafetensorsDtype, numel: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const aligned = LITTLE_ENDIAN && bytes.byteOffset % 4 === 0;
  if (dtype === 'F32' && aligned) return new Float32Array(bytes.buffer, bytes.byteOffset, numel).slice();
  const out = new Float32Array(numel);
  if ((dtype === 'F16' || dtype === 'BF16') && aligned) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, numel);
    if (dtype === 'F16') {
      const table = f16Lookup();
      for (let i = 0; i < numel; i++) out[i] = table[halves[i]];
    } else {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = halves[i] << 16;
    }
    return out;
  }
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < numel; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < numel; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < numel; i++) out[i] = f16BitsToFloat(view.getUint16(i * 2, true));
      break;
    case 'BF16':
      for (let i = 0; i < numel; i++) out[i] = bf16BitsToFloat(view.getUint16(i * 2, true));
      break;
    default:
      throw new Error(`decodeFloat: ${dtype} is not a float dtype`);
  }
  return out;
}

/**
 * Decodes integer dtypes: I64 values must fit in i32 (token ids, positions);
 * returns null for a value out of range so the caller can name the tensor.
 */
export function decodeInt(bytes: Uint8Array, dtype: SafetensorsDtype, numel: number): Int32Array | Uint8Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'U8':
    case 'BOOL':
      return Uint8Array.from(bytes.subarray(0, numel));
    case 'I8':
      return Int32Array.from({ length: numel }, (_, i) => view.getInt8(i));
    case 'I16':
      return Int32Array.from({ length: numel }, (_, i) => view.getInt16(i * 2, true));
    case 'I32':
      return Int32Array.from({ length: numel }, (_, i) => view.getInt32(i * 4, true));
    case 'I64': {
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) return null;
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new Error(`decodeInt: ${dtype} is not an integer dtype`);
  }
}
