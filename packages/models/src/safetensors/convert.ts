import type { DType, HostData } from '@lowrank/core';
import { decodeFloat, decodeInt } from './decode.js';
import { floatToBf16Bits, floatToF16Bits, isFloatDtype, type SafetensorsDtype } from './dtypes.js';

/** Float storage dtypes a frozen base weight may be held at. */
export type StorageDtype = 'f32' | 'bf16' | 'f16';

export const STORAGE_DTYPES: readonly StorageDtype[] = ['f32', 'bf16', 'f16'];

/** The stored safetensors dtype whose bytes are exactly the storage dtype's little-endian layout. */
export const SAFETENSORS_OF_STORAGE: Readonly<Record<StorageDtype, SafetensorsDtype>> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

export function isStorageDtype(d: unknown): d is StorageDtype {
  return d === 'f32' || d === 'bf16' || d === 'f16';
}

/** Whether bytes stored as `stored` are, untouched, a tensor of graph dtype `as`. */
export function bytesAreExactly(stored: SafetensorsDtype, as: DType): boolean {
  return (stored === 'F32' && as === 'f32') || (stored === 'BF16' && as === 'bf16') || (stored === 'F16' && as === 'f16') || (stored === 'I32' && as === 'i32') || (stored === 'U8' && as === 'u8') || (stored === 'BOOL' && as === 'bool');
}

/** f32 values to bf16 bits, round to nearest even (as torch's .bfloat16()). */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToBf16Bits(values[i]);
  return out;
}

/** f32 values to f16 bits, round to nearest even (as torch's .half()). */
export function f32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToF16Bits(values[i]);
  return out;
}

/**
 * A tensor's stored bytes (little-endian, a fresh aligned buffer) as host data
 * of graph dtype `as`: reinterpreted where the bytes already are that dtype,
 * else decoded (and for a 16-bit target rounded to nearest even).
 */
export function convertStored(bytes: Uint8Array, stored: SafetensorsDtype, as: DType, numel: number): HostData | null {
  if (bytes.byteOffset % 4 === 0 && bytesAreExactly(stored, as)) {
    if (as === 'f32') return new Float32Array(bytes.buffer, bytes.byteOffset, numel);
    if (as === 'bf16' || as === 'f16') return new Uint16Array(bytes.buffer, bytes.byteOffset, numel);
    if (as === 'i32') return new Int32Array(bytes.buffer, bytes.byteOffset, numel);
    return bytes;
  }
  if (isFloatDtype(stored)) {
    const f = decodeFloat(bytes, stored, numel);
    if (as === 'f32') return f;
    if (as === 'bf16') return f32ToBf16(f);
    if (as === 'f16') return f32ToF16(f);
    return null;
  }
  const ints = decodeInt(bytes, stored, numel);
  if (!ints) return null;
  if (as === 'i32' && ints instanceof Int32Array) return ints;
  if ((as === 'u8' || as === 'bool') && ints instanceof Uint8Array) return ints;
  return null;
}
