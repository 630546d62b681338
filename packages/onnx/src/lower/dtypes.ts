import type { DType } from '@lowrank/core';
import { OnnxDataType, type OnnxDataTypeCode } from '../model/onnx-types.js';

/** ONNX element type of a core dtype. */
export function onnxDataType(dtype: DType): OnnxDataTypeCode {
  switch (dtype) {
    case 'f32':
      return OnnxDataType.FLOAT;
    case 'i32':
      return OnnxDataType.INT32;
    case 'u8':
      return OnnxDataType.UINT8;
    case 'bool':
      return OnnxDataType.BOOL;
    case 'f16':
      return OnnxDataType.FLOAT16;
    case 'bf16':
      return OnnxDataType.BFLOAT16;
  }
}

/** Little-endian raw bytes of values stored as an ONNX element type. */
export function encodeValues(values: ArrayLike<number>, dataType: OnnxDataTypeCode): Uint8Array {
  const n = values.length;
  switch (dataType) {
    case OnnxDataType.FLOAT:
      return bytesOf(Float32Array.from(values));
    case OnnxDataType.DOUBLE:
      return bytesOf(Float64Array.from(values));
    case OnnxDataType.INT32:
      return bytesOf(Int32Array.from(values, (v) => Math.trunc(v) | 0));
    case OnnxDataType.UINT32:
      return bytesOf(Uint32Array.from(values, (v) => Math.trunc(v) >>> 0));
    case OnnxDataType.INT64: {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(Math.trunc(values[i]));
      return bytesOf(out);
    }
    case OnnxDataType.UINT8:
    case OnnxDataType.INT8:
      return Uint8Array.from(values, (v) => Math.trunc(v) & 0xff);
    case OnnxDataType.BOOL:
      return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
    default:
      throw new RangeError(`no encoder for ONNX data type ${dataType}`);
  }
}

/** A byte view of a typed array (no copy); the engine is little-endian on every platform ORT ships for. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
