/** Element types a graph value can have. */
export type DType = 'f32' | 'i32' | 'u8' | 'bool';

export const DTYPES: readonly DType[] = ['f32', 'i32', 'u8', 'bool'];

/** Bytes per element as stored on a device. */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'f32' || dtype === 'i32' ? 4 : 1;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32';
}

/** Typed array used to move values of a dtype between host and backends. */
export type HostData = Float32Array | Int32Array | Uint8Array | Float64Array;

export function allocHostData(dtype: DType, size: number): Float32Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'f32':
      return new Float32Array(size);
    case 'i32':
      return new Int32Array(size);
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
    case 'i32':
      return Math.trunc(value) | 0;
    case 'u8':
      return Math.trunc(value) & 0xff;
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}
