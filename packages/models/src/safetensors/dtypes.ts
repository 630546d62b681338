import type { DType } from '@lowrank/core';

/** Element types of the safetensors format (those we can read). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

export function isFloatDtype(d: SafetensorsDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** The graph dtype a stored dtype loads as. */
export function graphDtypeOf(d: SafetensorsDtype): DType {
  if (isFloatDtype(d)) return 'f32';
  if (d === 'U8') return 'u8';
  if (d === 'BOOL') return 'bool';
  return 'i32';
}

/** Half precision bits to the float value (exact: every f16 is an f32). */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Float to half precision bits, rounding to nearest even (overflow to ±inf), as torch's .half(). */
export function floatToF16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Unbiased exponent; f16 normal range is [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal: keep 10 mantissa bits, round the dropped 13 to nearest even.
    let bits = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && bits & 1)) bits++;
    return sign | bits;
  }
  if (e < -25) return sign; // below half the smallest subnormal: rounds to zero
  // Subnormal: value = m · 2^-24 with m = full mantissa (with implicit 1) shifted.
  const full = mant | 0x800000;
  const shift = -e - 14 + 13;
  let bits = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && bits & 1)) bits++;
  return sign | bits;
}

/** bfloat16 bits to float (exact). */
export function bf16BitsToFloat(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0];
}

/** Float to bfloat16 bits, rounding the f32 value to nearest even (NaN stays NaN), as torch's .bfloat16(). */
export function floatToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
