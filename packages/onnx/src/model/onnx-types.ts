/** The subset of ONNX's data model the lowering produces (field numbers live in encode-model.ts). */

/** TensorProto.DataType values. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
  UINT32: 12,
  UINT64: 13,
} as const;
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** A constant tensor: an initializer or a tensor-valued attribute. `data` is little-endian raw bytes. */
/** Bytes of a tensor that stay in a file (ONNX external data): absolute path, byte offset and length. */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly byteLength: number;
}

export interface OnnxTensor {
  readonly name: string;
  readonly dataType: OnnxDataTypeCode;
  readonly dims: readonly number[];
  /** The raw bytes; empty when `file` holds them. */
  readonly data: Uint8Array;
  /** Set for a tensor whose bytes ORT reads from a file (never copied through JavaScript). */
  readonly file?: FileRange;
}

export type OnnxAttributeValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'tensor'; readonly value: OnnxTensor };

export interface OnnxNode {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, OnnxAttributeValue>>;
  readonly docString?: string;
}

export interface OnnxValueInfo {
  readonly name: string;
  readonly dataType: OnnxDataTypeCode;
  readonly dims: readonly number[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  readonly graph: OnnxGraph;
  /** Opset per domain ('' is the default ONNX domain). */
  readonly opsets: Readonly<Record<string, number>>;
  readonly irVersion: number;
  readonly producer: string;
}
