/**
 * Element types a graph value can have. bf16 and f16 are storage dtypes: a
 * frozen weight held at 16 bits enters arithmetic only through
 * `cast(x, 'f32')`, or moves (gather, slice, reshape, transpose) unchanged.
 */
export type DType = 'f32' | 'i32' | 'u8' | 'bool' | 'bf16' | 'f16';

export const DTYPES: readonly DType[] = ['f32', 'i32', 'u8', 'bool', 'bf16', 'f16'];

/** Bytes per element as stored on a device. */
export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'f32':
    case 'i32':
      return 4;
    case 'bf16':
    case 'f16':
      return 2;
    case 'u8':
    case 'bool':
      return 1;
  }
}

/** True for the compute float type; 16-bit storage dtypes are not compute types. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'f32';
}

/** True for the 16-bit float storage dtypes (raw bits held in a Uint16Array). */
export function isHalfFloat(dtype: DType): dtype is 'bf16' | 'f16' {
  return dtype === 'bf16' || dtype === 'f16';
}

/** Typed array used to move values of a dtype between host and backends (bf16/f16 as raw bits). */
export type HostData = Float32Array | Int32Array | Uint8Array | Uint16Array | Float64Array;

export function allocHostData(dtype: DType, size: number): Float32Array | Int32Array | Uint8Array | Uint16Array {
  switch (dtype) {
    case 'f32':
      return new Float32Array(size);
    case 'i32':
      return new Int32Array(size);
    case 'bf16':
    case 'f16':
      return new Uint16Array(size);
    case 'u8':
    case 'bool':
      return new Uint8Array(size);
  }
}

/** Rounds a float64 value to what the dtype can hold. */
export function castScalar(value: number, dtype: DType): number {
  switch (dtype) {
    case 'f32':
      return Math.fround(value);
    case 'bf16':
      return bf16BitsToNumber(numberToBf16Bits(value));
    case 'f16':
      return f16BitsToNumber(numberToF16Bits(value));
    case 'i32':
      return Math.trunc(value) | 0;
    case 'u8':
      return Math.trunc(value) & 0xff;
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

// ---- 16-bit float bit conversions ------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * bf16 bits of a float64, rounded to nearest even once (from the float64, not
 * via an f32 rounding first, which could round twice).
 */
export function numberToBf16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7fc0;
  f32[0] = value;
  const rounded = f32[0];
  if (rounded === value || !Number.isFinite(rounded)) {
    // Exact in f32 (or overflowed to infinity): rounding f32 to bf16 is the only rounding.
    return roundF32BitsToBf16(u32[0]);
  }
  // Inexact in f32: the f32 rounding could land on a bf16 tie; nudge it to the side of the true value.
  let bits = u32[0];
  if ((bits & 0xffff) === 0x8000) {
    const towardTrue = Math.abs(value) > Math.abs(rounded) ? 1 : -1;
    bits = (bits + towardTrue) >>> 0;
  }
  return roundF32BitsToBf16(bits);
}

function roundF32BitsToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** IEEE half bits of a float64, rounded to nearest even (subnormals and overflow to infinity included). */
export function numberToF16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  f64[0] = value;
  const b = u64[0];
  const sign = Number(b >> 63n) << 15;
  const exp = Number((b >> 52n) & 0x7ffn);
  const mant = b & 0xfffffffffffffn;
  if (exp === 0x7ff) return sign | 0x7c00;
  const e = exp - 1023; // unbiased exponent
  if (e > 15) return sign | 0x7c00;
  // The value is (1.mant) * 2^e (or a float64 subnormal, far below half's range).
  if (exp === 0) return sign;
  // Half keeps 10 fraction bits at e >= -14; below that it is subnormal with a fixed 2^-24 step.
  const full = mant | (1n << 52n); // 53-bit significand
  const shift = e >= -14 ? 42 : 42 + (-14 - e); // bits dropped from the 53-bit significand
  if (shift > 53) return sign; // below half the smallest subnormal: rounds to zero
  const kept = full >> BigInt(shift);
  const rest = full & ((1n << BigInt(shift)) - 1n);
  const half = 1n << BigInt(shift - 1);
  let q = Number(kept);
  if (rest > half || (rest === half && (q & 1) === 1)) q += 1;
  if (e >= -14) {
    // q in [1024, 2048]; carry into the exponent when it reaches 2048.
    let he = e + 15;
    if (q === 2048) {
      q = 1024;
      he += 1;
    }
    if (he >= 31) return sign | 0x7c00;
    return sign | (he << 10) | (q - 1024);
  }
  // Subnormal: q counts 2^-24 steps; q === 1024 is the smallest normal, encoded the same way.
  return sign | q;
}

export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}
